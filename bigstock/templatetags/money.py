from django import template

from bigstock.money import format_cents, percent

register = template.Library()


@register.filter
def cents(amount_cents):
    """``{{ invoice.total_cents|cents }}`` → ``1 234,56 €``."""
    if amount_cents is None or amount_cents == "":
        return ""
    return format_cents(int(amount_cents))


@register.filter
def vat_percent(rate):
    return percent(rate)
