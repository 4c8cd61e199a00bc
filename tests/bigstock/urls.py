"""Test-only routes that exercise the shared API behaviour (idempotency, validation errors)."""

import uuid

from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from bigstock.api import BaseAPIView
from bigstock.urls import urlpatterns as project_urlpatterns


class EchoSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=20)
    quantity = serializers.IntegerField(min_value=1)


class EchoView(BaseAPIView):
    permission_classes = [IsAuthenticated]  # shared behaviour only: no partner needed
    def post(self, request):
        serializer = EchoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"id": uuid.uuid4().hex, **serializer.validated_data}, status=201)


class TwoPerMinute(AnonRateThrottle):
    rate = "2/min"


class ThrottledView(BaseAPIView):
    permission_classes = [AllowAny]
    throttle_classes = [TwoPerMinute]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("api/v1/test-echo", EchoView.as_view()),
    path("api/v1/test-throttled", ThrottledView.as_view()),
    *project_urlpatterns,
]
