"""Create the admin account on first start and print its password once."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand


class Command(BaseCommand):
    help = "Create the first superuser (ADMIN_USERNAME) with a random password, if no superuser exists."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=settings.ADMIN_USERNAME, email="", password=password)
        banner = "=" * 64
        self.stdout.write(
            f"{banner}\n  Admin account created. Log in at /accounts/login/ with\n"
            f"    username: {settings.ADMIN_USERNAME}\n    password: {password}\n"
            f"  This password is shown once. Change it in the admin (top right).\n{banner}")
