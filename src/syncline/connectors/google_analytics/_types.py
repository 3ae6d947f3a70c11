"""The GA4 recommended events offered as event types, and their parameters."""

from __future__ import annotations

from syncline import types as t
from syncline.sdk import EventType

__all__ = ["CUSTOM", "EVENT_TYPES", "SCHEMAS"]

CUSTOM = "custom"

_ITEM = t.Object(
    [
        t.Property("item_id", t.String(max_length=100), nullable=True),
        t.Property("item_name", t.String(max_length=100), nullable=True),
        t.Property("item_brand", t.String(max_length=100), nullable=True),
        t.Property("item_category", t.String(max_length=100), nullable=True),
        t.Property("item_variant", t.String(max_length=100), nullable=True),
        t.Property("coupon", t.String(max_length=100), nullable=True),
        t.Property("price", t.Float(), nullable=True),
        t.Property("quantity", t.Int(), nullable=True),
    ]
)


def _items(required: bool) -> t.Property:
    return t.Property(
        "items",
        t.Array(_ITEM),
        create_required=required,
        description="Products: item_id or item_name each, with price and quantity",
    )


def _money(revenue: str) -> list[t.Property]:
    return [
        t.Property(
            "currency",
            t.String(max_length=3),
            create_required=True,
            prefilled="properties.currency",
            description="ISO 4217 code, e.g. USD; GA4 needs it whenever value is set",
        ),
        t.Property("value", t.Float(), create_required=True, prefilled=revenue),
    ]


_COUPON = t.Property(
    "coupon", t.String(max_length=100), nullable=True, prefilled="properties.coupon"
)
_METHOD = t.Property(
    "method",
    t.String(max_length=100),
    create_required=True,
    prefilled="properties.method",
    description="How the user signed up or logged in, e.g. Google",
)

SCHEMAS: dict[str, t.Object] = {
    "purchase": t.Object(
        [
            t.Property(
                "transaction_id",
                t.String(max_length=100),
                create_required=True,
                prefilled="properties.order_id",
                description="Unique per order; GA4 deduplicates purchases on it",
            ),
            *_money("properties.revenue"),
            _items(True),
            _COUPON,
            t.Property("shipping", t.Float(), nullable=True, prefilled="properties.shipping"),
            t.Property("tax", t.Float(), nullable=True, prefilled="properties.tax"),
        ]
    ),
    "add_to_cart": t.Object([*_money("properties.price"), _items(True)]),
    "begin_checkout": t.Object([*_money("properties.value"), _items(True), _COUPON]),
    "sign_up": t.Object([_METHOD]),
    "login": t.Object([_METHOD]),
    "page_view": t.Object(
        [
            t.Property(
                "page_location",
                t.String(max_length=1000),
                nullable=True,
                prefilled="context.page.url",
            ),
            t.Property(
                "page_title",
                t.String(max_length=300),
                nullable=True,
                prefilled="context.page.title",
            ),
            t.Property(
                "page_referrer",
                t.String(max_length=420),
                nullable=True,
                prefilled="context.page.referrer",
            ),
        ]
    ),
}

EVENT_TYPES = [
    EventType(
        "purchase", "Purchase", "GA4 recommended purchase event", "event is 'Order Completed'"
    ),
    EventType(
        "add_to_cart",
        "Add to cart",
        "GA4 recommended add_to_cart event",
        "event is 'Product Added'",
    ),
    EventType(
        "begin_checkout",
        "Begin checkout",
        "GA4 recommended begin_checkout event",
        "event is 'Checkout Started'",
    ),
    EventType("sign_up", "Sign up", "GA4 recommended sign_up event", "event is 'Signed Up'"),
    EventType("login", "Login", "GA4 recommended login event", "event is 'Signed In'"),
    EventType("page_view", "Page view", "GA4 page_view event from page calls", "type is 'page'"),
    EventType(
        CUSTOM,
        "Custom event",
        "The event name is Segment's 'event' and the parameters its properties",
        "type is 'track'",
    ),
]
