"""States of the console shell's models."""
from django.db import models


class GrantState(models.TextChoices):
    PENDING = "pending", "Awaiting a second admin"
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"


GRANT_FINAL = (GrantState.CONFIRMED, GrantState.CANCELLED)
