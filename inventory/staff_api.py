"""The warehouse API, for BigStock's staff and their warehouse systems: receive, adjust and count
stock through the same services as the admin, each change written in the ledger with its reason.

Not partner-facing: a partner's API key or session is refused here. Callers authenticate as a
staff user, with a DRF token (``Authorization: Token <key>``, created for the user in the admin,
under "Auth Token") or their admin session, and need the ``inventory.change_stocklevel``
permission, as the admin's stock operations do.
"""

from collections.abc import Callable

from django.contrib.auth.models import Group
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import authentication, exceptions, permissions, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.response import Response

from bigstock import hotcache
from bigstock.api import BaseAPIView, ErrorSerializer, validated
from partners.audit import Actor
from partners.models import User

from . import services
from .models import StockLevel

TAGS = ["warehouse (BigStock staff)"]


# A warehouse system calls back to back: its token, user and permissions are kept a few seconds per
# process (bigstock.hotcache, as partners' API keys). Deleting the token, saving the user or changing
# their permissions or groups clears them here at once; other processes see it within those seconds.
staff_tokens = hotcache.HotCache("staff_tokens")
staff_tokens.forget_on_save(Token, key=lambda token: token.key)
staff_tokens.forget_on_save(User)
# The permissions kept with the token: a user's own, and those of their groups.
for relation in (User.user_permissions.through, User.groups.through, Group.permissions.through):
    staff_tokens.forget_on_relation_change(relation)


def _load_token(key: str) -> Token | None:
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is not None:
        token.user.get_all_permissions()  # read now, kept on the user with it (no query per call)
    return token


class StaffTokenAuthentication(authentication.TokenAuthentication):
    """DRF's token, for active staff users only (a token left to someone who is no longer staff
    stops working)."""

    def authenticate_credentials(self, key):
        token = staff_tokens.get_or_load(key, lambda: _load_token(key))
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.user.is_staff:
            raise exceptions.AuthenticationFailed(_("This token does not belong to a BigStock staff member."))
        return token.user, token

    def authenticate(self, request):
        credentials = super().authenticate(request)
        if credentials is not None:
            request._request.partner = request._request.membership = None  # staff: no partner behind the call
        return credentials


class ChangesStock(permissions.BasePermission):
    message = gettext_lazy("Changing stock needs a BigStock staff account with the permission to change stock levels.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm("inventory.change_stocklevel"))


class LevelSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    warehouse = serializers.CharField(source="warehouse.code")
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField(help_text=gettext_lazy("Held for orders."))
    available = serializers.IntegerField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, level) -> dict:
        # Written out, as OrderSerializer's: building the fields cost more than the rest of the answer.
        # The fields above document it; a test holds the two equal.
        return {"sku": level.product.sku, "warehouse": level.warehouse.code, "on_hand": level.on_hand,
                "reserved": level.reserved, "available": level.available,
                "updated_at": _MOMENT.to_representation(level.updated_at)}


_MOMENT = serializers.DateTimeField()


class _LevelInput(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    warehouse = serializers.CharField(max_length=20, help_text=gettext_lazy("The warehouse's code: lyon, lille…"))


class AdjustmentInput(_LevelInput):
    delta = serializers.IntegerField(help_text=gettext_lazy("Units added (found) or, negative, removed (broken, lost)."))
    reason = serializers.CharField(max_length=300, help_text=gettext_lazy("Kept in the stock ledger."))


class ReceiptInput(_LevelInput):
    quantity = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class CountInput(_LevelInput):
    counted = serializers.IntegerField(min_value=0, help_text=gettext_lazy("What is on the shelf: the difference "
                                                                           "with the ledger becomes a movement."))
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


def _documented(summary: str, description: str, request, example: dict):
    return extend_schema_view(post=extend_schema(
        summary=summary, description=description, tags=TAGS, request=request,
        responses={201: LevelSerializer, 400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer},
        examples=[OpenApiExample(summary, value=example, request_only=True)],
    ))


class StockOperationView(BaseAPIView):
    """POST one stock operation; the answer is the level after it (201). The input's fields, but the
    SKU and the warehouse, are the operation's own arguments (``delta``, ``quantity``, ``counted``,
    ``reason``)."""

    authentication_classes = [StaffTokenAuthentication, authentication.SessionAuthentication]
    permission_classes = [ChangesStock]
    input_serializer: type[_LevelInput]
    operation: Callable[..., StockLevel]  # an inventory.services function

    def post(self, request):
        data = validated(self.input_serializer, request.data)
        product = services.product_by_sku(data.pop("sku"))  # 404 unknown_sku
        warehouse = services.warehouse_by_code(data.pop("warehouse"))  # 400 unknown_warehouse
        level = type(self).operation(product=product, warehouse=warehouse, actor=Actor.from_request(request), **data)
        return Response(LevelSerializer(level).data, status=status.HTTP_201_CREATED)


@_documented("Adjust stock", "A correction with its reason; never below what is reserved for orders (400 "
             "`stock_below_zero` with the quantities).", AdjustmentInput,
             {"sku": "TEA-GREEN-100", "warehouse": "lyon", "delta": -2, "reason": "Broken in handling"})
class AdjustmentView(StockOperationView):
    input_serializer = AdjustmentInput
    operation = services.adjust


@_documented("Receive stock", "Goods arrived outside an expected receipt: on hand goes up.", ReceiptInput,
             {"sku": "TEA-GREEN-100", "warehouse": "lyon", "quantity": 24, "reason": "Delivery 4471"})
class ReceiptView(StockOperationView):
    input_serializer = ReceiptInput
    operation = services.receive


@_documented("Count stock", "Stocktake: on hand becomes what was counted; never below what is reserved.",
             CountInput, {"sku": "TEA-GREEN-100", "warehouse": "lyon", "counted": 118})
class CountView(StockOperationView):
    input_serializer = CountInput
    operation = services.count
