from django.core.management.base import BaseCommand

from console import context
from console.roles import ROLE_DESCRIPTIONS
from console.services import demo_users_create


class Command(BaseCommand):
    help = "Create one demo user per role and print their passwords (never use in production)."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="give existing demo users new passwords too")

    def handle(self, *args, reset, **options):
        with context.for_command("demo_users"):
            users = demo_users_create(reset_passwords=reset)
        for user in users:
            password = user.password or "(unchanged; --reset to set a new one)"
            self.stdout.write(f"{user.role:9} {user.username:18} {password:24} {ROLE_DESCRIPTIONS[user.role]}")
