"""Staff screens for partners, teams, keys, invitations and the audit log.

Every change of state goes through ``partners.services`` (approval emails, audit log, events);
secrets (API key hashes, invitation tokens) are never shown. Teams, keys and invitations are
managed by the partners themselves in the portal: here staff look, and revoke a key.
"""

import re

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from bigstock.admin import ReadOnlyAdminMixin, ReadOnlyModelAdmin

from . import audit, services
from .audit import Actor, client_ip
from .models import ApiKey, AuditLogEntry, Invitation, Membership, Partner, User


def staff_actor(request) -> Actor:
    return Actor(user=request.user, ip_address=client_ip(request))


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


# --- Partners -------------------------------------------------------------------------------


class MembershipInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True


# Typed identifiers: "732 829 320", "FR 44 732829320", "732.829.320.00074".
_IDENTIFIER = re.compile(r"^(\d{9}|\d{14}|[A-Z]{2}[0-9A-Z]{2,13})$")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "trade_name", "siret", "vat_number", "status", "country", "created_at"]
    list_filter = ["status", "country", "legal_form"]
    search_fields = ["legal_name", "trade_name", "siret", "vat_number", "public_id", "billing_email"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    readonly_fields = ["public_id", "siren", "status", "approved_at", "require_2fa", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["public_id", "status", "approved_at", "require_2fa"]}),
        (_("Business"), {"fields": ["legal_name", "trade_name", "legal_form", "siret", "siren", "vat_number"]}),
        (_("Address and contact"), {"fields": ["address_line1", "address_line2", "postcode", "city", "country",
                                                "billing_email", "phone"]}),
        (_("Important dates"), {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [MembershipInline]
    actions = ["approve", "suspend", "close"]

    @admin.display(description=_("SIREN"))
    def siren(self, partner):
        return partner.siren

    def has_add_permission(self, request):
        return False  # a business registers itself, with its owner, in the portal

    def has_delete_permission(self, request, obj=None):
        return False  # partners are closed, never deleted: invoices and the audit log point to them

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        compact = re.sub(r"[\s.\-]", "", search_term).upper()
        if compact != search_term and _IDENTIFIER.match(compact):
            queryset |= self.model.objects.filter(Q(siret__startswith=compact) | Q(vat_number=compact))
        return queryset, may_have_duplicates

    def save_model(self, request, obj, form, change):
        changes = {field: form.cleaned_data[field] for field in form.changed_data if field in services.PROFILE_FIELDS}
        if changes:
            services.update_partner_profile(partner=obj, membership=None, actor=staff_actor(request), **changes)

    def _set_status(self, request, queryset, status: str, done) -> None:
        actor = staff_actor(request)
        partners = list(queryset)
        changed = [p for p in partners if p.status != status]
        for partner in changed:
            services.set_partner_status(partner=partner, status=status, actor=actor)
        if changed:
            self.message_user(request, done(len(changed)) % {"count": len(changed)}, messages.SUCCESS)
        if unchanged := len(partners) - len(changed):
            self.message_user(
                request,
                ngettext("%(count)d partner already had this status.", "%(count)d partners already had this status.",
                         unchanged) % {"count": unchanged},
                messages.INFO,
            )

    @admin.action(description=_("Approve (or reactivate) the selected partners"), permissions=["change"])
    def approve(self, request, queryset):
        self._set_status(request, queryset, Partner.Status.ACTIVE, lambda n: ngettext(
            "%(count)d partner approved: its owners were told by email.",
            "%(count)d partners approved: their owners were told by email.", n))

    @admin.action(description=_("Suspend the selected partners"), permissions=["change"])
    def suspend(self, request, queryset):
        self._set_status(request, queryset, Partner.Status.SUSPENDED, lambda n: ngettext(
            "%(count)d partner suspended.", "%(count)d partners suspended.", n))

    @admin.action(description=_("Close the selected partners"), permissions=["change"])
    def close(self, request, queryset):
        self._set_status(request, queryset, Partner.Status.CLOSED, lambda n: ngettext(
            "%(count)d partner closed: its API keys stop working.", "%(count)d partners closed: their API keys stop working.", n))


@admin.register(Membership)
class MembershipAdmin(ReadOnlyModelAdmin):
    list_display = ["user", "partner", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "partner"]
    search_fields = ["user__email", "user__last_name", "partner__legal_name", "partner__trade_name", "partner__siret"]
    fields = ["user", "partner", "role", "created_at"]


# --- Keys, invitations, audit log -----------------------------------------------------------------


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyModelAdmin):
    list_display = ["name", "partner", "key_prefix", "scopes", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "expires_at"]
    list_select_related = ["partner"]
    search_fields = ["prefix", "name", "public_id", "partner__legal_name", "partner__public_id"]
    # Never the secret's hash.
    fields = ["public_id", "partner", "name", "key_prefix", "scopes", "created_by", "created_at", "last_used_at",
              "expires_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description=_("key"))
    def key_prefix(self, key):
        return f"bsk_{key.prefix}_…"

    @admin.action(description=_("Revoke the selected keys"), permissions=["revoke"])
    def revoke(self, request, queryset):
        actor = staff_actor(request)
        active = [key for key in queryset if key.revoked_at is None]
        for key in active:
            services.revoke_api_key(key=key, membership=None, actor=actor)
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", len(active)) % {"count": len(active)},
            messages.SUCCESS,
        )

    def has_revoke_permission(self, request):
        return request.user.has_perm("partners.change_apikey")


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyModelAdmin):
    list_display = ["email", "partner", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role", ("accepted_at", admin.EmptyFieldListFilter), ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["partner"]
    search_fields = ["email", "public_id", "partner__legal_name"]
    # Never the token's hash.
    fields = ["public_id", "partner", "email", "role", "invited_by", "created_at", "expires_at", "accepted_at",
              "accepted_by", "revoked_at"]


class AuditActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return audit.action_choices(audit.ACTIONS)

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "partner", "actor_label", "shown_action", "target_label", "ip_address"]
    list_filter = [AuditActionFilter, ("partner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["partner"]
    search_fields = ["actor_label", "action", "target_id", "target_label", "partner__legal_name",
                     "partner__public_id", "ip_address"]
    date_hierarchy = "created_at"
    fields = ["created_at", "partner", "actor_label", "actor_user", "actor_api_key", "ip_address", "shown_action",
              "action", "shown_target_type", "target_id", "target_label", "data"]
    readonly_fields = fields

    @admin.display(description=_("object type"))
    def shown_target_type(self, entry):
        return audit.target_type_label(entry.target_type) or "—"

    @admin.display(description=_("action"), ordering="action")
    def shown_action(self, entry):
        return audit.action_label(entry.action)
