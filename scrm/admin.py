"""The mall admin site: bilingual titles, and staff accounts managed under the same StaffRole rules.

Admin permissions come from ``tenants.models.StaffRole`` (see ``tenants.admin``), so Django's
groups are not used and not shown; only a mall admin manages logins.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from tenants.admin import ADMIN_ONLY, RolePermissions
from tenants.models import StaffRole

admin.site.site_header = "商场私域 SCRM 运营后台 · Mall SCRM admin"
admin.site.site_title = "商场 SCRM Mall SCRM"
admin.site.index_title = "运营管理 Mall operations"

User = get_user_model()


class StaffRoleInline(RolePermissions, admin.StackedInline):
    model = StaffRole
    write_roles = ADMIN_ONLY
    can_delete = True
    autocomplete_fields = ["brand", "guide"]
    extra = 0
    max_num = 1


class MallUserAdmin(RolePermissions, auth_admin.UserAdmin):
    write_roles = ADMIN_ONLY
    inlines = [StaffRoleInline]
    list_display = ["username", "first_name", "last_name", "is_active", "is_staff", "staff_role", "last_login"]
    list_select_related = ["staff_role"]
    list_filter = ["is_active", "is_staff", "staff_role__role"]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("个人信息 Personal info", {"fields": ["first_name", "last_name", "email"]}),
        ("权限 Access", {"fields": ["is_active", "is_staff", "is_superuser"],
                         "description": "进入后台需勾选 is_staff；能做什么由员工角色决定。"
                                        "is_staff lets the login into this admin; the staff role decides what it may do."}),
        ("时间 Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]

    def get_readonly_fields(self, request, obj=None):
        # Only a superuser makes superusers.
        extra = [] if request.user.is_superuser else ["is_superuser"]
        return [*super().get_readonly_fields(request, obj), *extra]


if admin.site.is_registered(User):
    admin.site.unregister(User)
if admin.site.is_registered(Group):
    admin.site.unregister(Group)
admin.site.register(User, MallUserAdmin)
