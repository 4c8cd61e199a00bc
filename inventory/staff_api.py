"""The warehouse API, for BigStock's staff and their warehouse systems: receive, adjust and count
stock through the same services as the admin, each change written in the ledger with its reason.

Not partner-facing: a partner's API key or session is refused here. Callers authenticate as a
staff user, with a token (``Authorization: Token <token>``, issued in the admin under "Warehouse API
tokens", shown once and kept only as a hash: django-rest-knox) or their admin session, and need the
``inventory.change_stocklevel`` permission, as the admin's stock operations do.
"""

from collections.abc import Callable
from hmac import compare_digest

from django.contrib.auth.models import Group
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response

from bigstock import hotcache
from bigstock.api import BaseAPIView, ErrorSerializer, validated
from partners.audit import Actor
from partners.models import User

from . import services
from .models import StockLevel

TAGS = ["warehouse (BigStock staff)"]


# A warehouse system calls back to back: its token, user and permissions are kept a few seconds per
# process (bigstock.hotcache, as partners' API keys), by the token's first characters (knox's
# ``token_key``); the token itself is checked against the kept hash on every call. Deleting the
# token, saving the user or changing their permissions or groups clears them here at once; other
# processes see it within those seconds.
staff_tokens = hotcache.HotCache("staff_tokens")
staff_tokens.forget_on_save(AuthToken, key=lambda token: token.token_key)
staff_tokens.forget_on_save(User)
# The permissions kept with the token: a user's own, and those of their groups.
for relation in (User.user_permissions.through, User.groups.through, Group.permissions.through):
    staff_tokens.forget_on_relation_change(relation)


def _load_tokens(token_key: str) -> list[AuthToken]:
    tokens = list(AuthToken.objects.select_related("user").filter(token_key=token_key))
    for token in tokens:
        token.user.get_all_permissions()  # read now, kept on the user with it (no query per call)
    return tokens


class StaffTokenAuthentication(TokenAuthentication):
    """knox's token, for active staff users only (a token left to someone who is no longer staff
    stops working)."""

    def authenticate_credentials(self, token: bytes):
        token = token.decode("utf-8", "replace")
        candidates = staff_tokens.get_or_load(token[:CONSTANTS.TOKEN_KEY_LENGTH],
                                              lambda: _load_tokens(token[:CONSTANTS.TOKEN_KEY_LENGTH]))
        digest = hash_token(token) if candidates else ""
        found = next((candidate for candidate in candidates if compare_digest(candidate.digest, digest)), None)
        if found is None or (found.expiry is not None and found.expiry < timezone.now()) or not found.user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not found.user.is_staff:
            raise exceptions.AuthenticationFailed(_("This token does not belong to a BigStock staff member."))
        return found.user, found

    def authenticate(self, request):
        credentials = super().authenticate(request)
        if credentials is not None:
            request._request.partner = request._request.membership = None  # staff: no partner behind the call
        return credentials


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = StaffTokenAuthentication
    name = "staffToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "A staff user's warehouse API token, issued in the admin (Inventory → Warehouse API "
                           "tokens), sent as `Authorization: Token <token>`.",
        }


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
        responses={201: LevelSerializer, 400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer,
                   404: ErrorSerializer, 409: ErrorSerializer},
        examples=[OpenApiExample(summary, value=example, request_only=True)],
    ))


class StockOperationView(BaseAPIView):
    """POST one stock operation; the answer is the level after it (201). The input's fields, but the
    SKU and the warehouse, are the operation's own arguments (``delta``, ``quantity``, ``counted``,
    ``reason``)."""

    authentication_classes = [StaffTokenAuthentication, SessionAuthentication]
    permission_classes = [ChangesStock]
    input_serializer: type[_LevelInput]
    operation: Callable[..., StockLevel]  # an inventory.services function

    def post(self, request):
        data = validated(self.input_serializer, request.data)
        product = services.product_by_sku(data.pop("sku"))  # 404 unknown_sku
        warehouse = services.warehouse_by_code(data.pop("warehouse"))  # 400 unknown_warehouse
        level = type(self).operation(product=product, warehouse=warehouse, actor=Actor.from_request(request), **data)
        return Response(LevelSerializer(level).data, status=status.HTTP_201_CREATED)


@_documented("Adjust stock", "A correction with its reason; never below what is reserved for orders (409 "
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


@_documented("Count stock", "Stocktake: on hand becomes what was counted; never below what is reserved (409 "
             "`stock_below_zero`).",
             CountInput, {"sku": "TEA-GREEN-100", "warehouse": "lyon", "counted": 118})
class CountView(StockOperationView):
    input_serializer = CountInput
    operation = services.count
