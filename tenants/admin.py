"""Mall ops admin (Django admin on the mall host): brands, stores, counters, staff roles, API clients.

Who may do what comes from the StaffRole (``tenants.access``), never from Django's per-model
permissions: mall_admin everything, mall_operator everything but staff roles, users and API
clients, mall_analyst view only, brand roles and guides nothing at all (they use the brand
dashboard and the sidebar). Writes go through the same services as the API and the commands.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db import connection
from django.utils.functional import cached_property

from scrm.pagination import EstimatedCountPaginator

from .access import principal_for_user
from .models import (
    MALL_ROLES,
    ApiClient,
    AuditEvent,
    Brand,
    BrandStatus,
    Counter,
    Domain,
    Role,
    StaffRole,
    Store,
)
from .services import (
    RESERVED_SLUGS,
    SLUG_RE,
    api_client_create,
    brand_onboard,
    brand_resume,
    brand_suspend,
)

WRITE_ROLES = frozenset({Role.MALL_ADMIN, Role.MALL_OPERATOR})
ADMIN_ONLY = frozenset({Role.MALL_ADMIN})


def admin_role(request) -> str | None:
    """The mall role behind an admin request; None for anyone who may not use the mall admin."""
    user = getattr(request, "user", None)
    if user is None or not (user.is_active and user.is_staff):
        return None
    if user.is_superuser:
        return Role.MALL_ADMIN
    principal = principal_for_user(user)  # one query per request: user.staff_role is cached
    if principal is None or principal.role not in MALL_ROLES:
        return None
    return principal.role


def admin_actor(request) -> str:
    return f"user:{request.user.pk}"


class RolePermissions:
    """Admin permissions from the StaffRole. Subclasses say what the model allows at all.

    ``write_roles`` may add/change/delete; ``addable``/``changeable``/``deletable`` switch an
    operation off for everyone (append-only ledgers switch off all three).
    """

    write_roles: frozenset = WRITE_ROLES
    addable = True
    changeable = True
    deletable = True

    def _may_write(self, request) -> bool:
        return admin_role(request) in self.write_roles

    def has_module_permission(self, request) -> bool:
        return admin_role(request) is not None

    def has_view_permission(self, request, obj=None) -> bool:
        return admin_role(request) is not None

    def has_add_permission(self, request, obj=None) -> bool:  # inlines pass obj
        return self.addable and self._may_write(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.changeable and self._may_write(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.deletable and self._may_write(request)


class MallAdmin(RolePermissions, admin.ModelAdmin):
    """Base class of every mall admin page."""

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        # Write only what the form changed: meanwhile a service may have moved a balance, a status
        # or a counter of the same row, and a full save() would put the stale values back.
        names = {field.name for field in obj._meta.concrete_fields}
        fields = [name for name in form.changed_data if name in names]
        if fields:
            fields += [f.name for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
            obj.save(update_fields=fields)


class ReadOnlyMallAdmin(MallAdmin):
    """Append-only ledgers and rows that only services write: viewable, never edited here."""

    addable = changeable = deletable = False


class BigTablePaginator(EstimatedCountPaginator):
    """The planner's estimate for the whole table, and a filtered count that stops at ``count_cap``:
    a filter such as gender or state still matches millions of rows, and counting them all on every
    page load would cost seconds. Past the cap the admin shows the cap and pages up to it."""

    count_cap = 100_000

    @cached_property
    def count(self) -> int:
        if not self.object_list.query.where:
            return super().count
        return self.object_list[:self.count_cap].count()  # COUNT(*) over a LIMITed subquery


class BigTableAdmin(MallAdmin):
    """Million-row tables: no COUNT(*) of the whole table, no facet counts."""

    paginator = BigTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


def adopt(obj, saved) -> None:
    """Make the admin's unsaved instance the row a service saved (for the admin's log and redirect)."""
    state = obj._state
    obj.__dict__.update({key: value for key, value in saved.__dict__.items() if key != "_state"})
    state.adding = False
    state.db = saved._state.db


# --------------------------------------------------------------------------- brands

def brand_member_counts(schema_names: list[str]) -> dict[str, int]:
    """Members per brand schema for one changelist page, in two queries whatever the page size.

    The mall sees brand data only as aggregates: a big brand gets PostgreSQL's planner estimate
    (free), a small one an exact count (cheap).
    """
    from members.brand.models import BrandMember

    if not schema_names:
        return {}
    table = BrandMember._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND n.nspname = ANY(%s)",
            [table, list(schema_names)],
        )
        estimates = dict(cursor.fetchall())
        counts = {schema: int(rows) for schema, rows in estimates.items() if rows > EstimatedCountPaginator.exact_limit}
        small = [schema for schema in estimates if schema not in counts]
        if small:
            quote = connection.ops.quote_name
            cursor.execute(" UNION ALL ".join(
                f"SELECT %s, COUNT(*) FROM {quote(schema)}.{quote(table)}" for schema in small), small)
            counts.update(dict(cursor.fetchall()))
    return counts


class BrandChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        counts = brand_member_counts([brand.schema_name for brand in self.result_list])
        for brand in self.result_list:
            brand.member_count = counts.get(brand.schema_name)


class BrandAddForm(forms.ModelForm):
    """Onboarding: the four things ``brand_onboard`` needs; schema and domain follow from the slug."""

    class Meta:
        model = Brand
        fields = ["name", "name_en", "slug", "category"]
        help_texts = {"slug": "3-40 位小写字母、数字或 '-'，以字母开头；创建后不可修改。"
                              "3-40 lowercase letters, digits or '-', starting with a letter; fixed once created."}

    def clean_slug(self):
        slug = (self.cleaned_data.get("slug") or "").strip().lower()
        if not SLUG_RE.match(slug) or slug in RESERVED_SLUGS:
            raise forms.ValidationError("子域名须为3-40位小写字母、数字或'-'，以字母开头，且不是保留词。 "
                                        "3-40 lowercase letters, digits or '-', starting with a letter; not reserved.")
        return slug


class DomainInline(RolePermissions, admin.TabularInline):
    model = Domain
    extra = 0
    fields = ["domain", "is_primary"]


@admin.register(Brand)
class BrandAdmin(MallAdmin):
    list_display = ["name", "name_en", "slug", "category", "status", "sharing_policy", "member_count_display",
                    "created_at"]
    list_filter = ["category", "status", "sharing_policy"]
    search_fields = ["name", "name_en", "slug"]
    ordering = ["name"]
    actions = ["suspend", "resume"]
    inlines = [DomainInline]
    deletable = False  # a brand's schema and rows are kept; suspend it instead
    fieldsets = [
        (None, {"fields": ["name", "name_en", "slug", "schema_name", "category"]}),
        ("状态 Status", {"fields": ["status", "suspended_at", "sharing_policy", "created_at"]}),
    ]
    readonly_fields = ["slug", "schema_name", "status", "suspended_at", "created_at"]

    def get_changelist(self, request, **kwargs):
        return BrandChangeList

    @admin.display(description="会员数 Members")
    def member_count_display(self, brand):
        count = getattr(brand, "member_count", None)
        return "—" if count is None else f"{count:,}"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = BrandAddForm
            kwargs["fields"] = BrandAddForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": BrandAddForm.Meta.fields})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def get_inlines(self, request, obj):
        # On add the service creates the primary domain; further domains are added afterwards.
        return [] if obj is None else super().get_inlines(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        # The form checked what the service checks; an AppError here is a race, and it rolls back
        # the admin's transaction (schema included).
        brand = brand_onboard(name=data["name"], slug=data["slug"], category=data["category"],
                              name_en=data.get("name_en") or "", actor=admin_actor(request))
        adopt(obj, brand)

    @admin.action(description="停用 Suspend selected brands", permissions=["change"])
    def suspend(self, request, queryset):
        changed = [brand_suspend(brand=brand, actor=admin_actor(request)).name
                   for brand in queryset.exclude(status=BrandStatus.SUSPENDED)]
        self.message_user(request, f"已停用 Suspended: {', '.join(changed) or '—'}", messages.SUCCESS)

    @admin.action(description="恢复 Resume selected brands", permissions=["change"])
    def resume(self, request, queryset):
        changed = [brand_resume(brand=brand, actor=admin_actor(request)).name
                   for brand in queryset.exclude(status=BrandStatus.ACTIVE)]
        self.message_user(request, f"已恢复 Resumed: {', '.join(changed) or '—'}", messages.SUCCESS)


# --------------------------------------------------------------------------- stores and counters

@admin.register(Store)
class StoreAdmin(MallAdmin):
    list_display = ["code", "name", "city", "address", "latitude", "longitude"]
    list_filter = ["city"]
    search_fields = ["code", "name"]


@admin.register(Counter)
class CounterAdmin(MallAdmin):
    list_display = ["code", "name", "brand", "store", "floor", "is_active"]
    list_select_related = ["brand", "store"]
    list_filter = ["is_active", "store"]
    search_fields = ["code", "name", "brand__name"]
    autocomplete_fields = ["brand", "store"]


# --------------------------------------------------------------------------- staff roles and API clients

@admin.register(StaffRole)
class StaffRoleAdmin(MallAdmin):
    write_roles = ADMIN_ONLY
    list_display = ["user", "role", "brand", "guide"]
    list_select_related = ["user", "brand", "guide"]
    list_filter = ["role"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user", "brand", "guide"]


class ApiClientAddForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ["name", "brand"]
        help_texts = {"brand": "留空 = 商场客户端。Empty = a mall-wide client."}


@admin.register(ApiClient)
class ApiClientAdmin(MallAdmin):
    write_roles = ADMIN_ONLY
    list_display = ["name", "brand", "key_prefix", "is_active", "created_at", "last_used_at"]
    list_select_related = ["brand"]
    list_filter = ["is_active"]
    search_fields = ["name", "=key_prefix"]
    autocomplete_fields = ["brand"]
    readonly_fields = ["brand", "key_prefix", "created_at", "last_used_at"]
    fields = ["name", "brand", "key_prefix", "is_active", "created_at", "last_used_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiClientAddForm
            kwargs["fields"] = ApiClientAddForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ApiClientAddForm.Meta.fields if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else super().get_readonly_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        client, key = api_client_create(name=form.cleaned_data["name"], brand=form.cleaned_data.get("brand"))
        adopt(obj, client)
        self.message_user(
            request, f"接口密钥只显示这一次，请立即复制保存。The API key is shown only once; copy it now: {key}",
            messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(BigTableAdmin, ReadOnlyMallAdmin):
    list_display = ["at", "action", "actor", "brand", "member_id", "guide_id"]
    list_select_related = ["brand"]
    search_fields = ["action"]
    search_help_text = "动作（精确）或会员ID。Exact action (e.g. brand.suspended) or a member id."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit():
            return queryset.filter(member_id=int(term)), False
        return queryset.filter(action=term), False
