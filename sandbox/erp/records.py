"""``/api/customers``, ``/api/products``, ``/api/invoices``: the ERP's read routes on its records (bearer token).

Each answers a JSON object read from the database at the time of the request:
a list (``limit``, or ``status`` for invoices), one record by its ERP id (404
when there is none), and the products' summary. The seed's ids are 1-50
(customers), 1-80 (products) and 1-30 (invoices); invoice statuses are paid,
sent and overdue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Security
from psycopg.rows import dict_row
from pydantic import BaseModel

from .gate import BEARER
from .runtime import AppRuntime

router = APIRouter(prefix="/api", tags=["Records"], dependencies=[Security(BEARER)])

Limit = Annotated[int, Query(ge=1, le=200, description="How many records, at most")]
InvoiceStatus = Literal["draft", "sent", "paid", "overdue", "void"]


class Customer(BaseModel):
    id: int
    zoho_contact_id: str | None
    name: str
    email: str | None
    phone: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class CustomerList(BaseModel):
    customers: list[Customer]
    count: int
    limit: int


class Product(BaseModel):
    id: int
    zoho_item_id: str | None
    name: str
    sku: str | None
    price: float | None
    stock_on_hand: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ProductList(BaseModel):
    products: list[Product]
    count: int
    limit: int


class ProductSummary(BaseModel):
    total: int
    active: int
    stock_on_hand: int
    stock_value_iqd: float


class Invoice(BaseModel):
    id: int
    zoho_invoice_id: str | None
    invoice_number: str
    customer_id: int | None
    total: float
    status: str
    created_at: datetime
    updated_at: datetime


class InvoiceList(BaseModel):
    invoices: list[Invoice]
    count: int
    status: InvoiceStatus | None


CUSTOMER_COLUMNS = "id, zoho_contact_id, name, email, phone, is_active, created_at, updated_at"
PRODUCT_COLUMNS = "id, zoho_item_id, name, sku, price, stock_on_hand, is_active, created_at, updated_at"
INVOICE_COLUMNS = "id, zoho_invoice_id, invoice_number, customer_id, total, status, created_at, updated_at"
# Fixed column lists, no input: the values travel as parameters.
CUSTOMERS_SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers ORDER BY id LIMIT %(limit)s"  # noqa: S608
CUSTOMER_SQL = f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = %(id)s"  # noqa: S608
PRODUCTS_SQL = f"SELECT {PRODUCT_COLUMNS} FROM products ORDER BY id LIMIT %(limit)s"  # noqa: S608
PRODUCT_SQL = f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = %(id)s"  # noqa: S608
INVOICES_SQL = (
    f"SELECT {INVOICE_COLUMNS} FROM invoices"  # noqa: S608
    " WHERE %(status)s::text IS NULL OR status = %(status)s ORDER BY id"
)
INVOICE_SQL = f"SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = %(id)s"  # noqa: S608
PRODUCT_SUMMARY_SQL = """
SELECT count(*) AS total, count(*) FILTER (WHERE is_active) AS active,
       coalesce(sum(stock_on_hand), 0) AS stock_on_hand,
       coalesce(sum(stock_on_hand * coalesce(price, 0)), 0) AS stock_value_iqd
  FROM products
"""


async def _rows(request: Request, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    runtime: AppRuntime = request.app.state.runtime
    async with await runtime.connect() as conn:
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(query, params)
        return await cursor.fetchall()


async def _one(request: Request, query: str, params: dict[str, Any], what: str) -> dict[str, Any]:
    rows = await _rows(request, query, params)
    if not rows:
        raise HTTPException(404, f"{what} not found")
    return rows[0]


@router.get("/customers", response_model=CustomerList, summary="List customers")
async def list_customers(request: Request, limit: Limit = 50) -> dict[str, Any]:
    rows = await _rows(request, CUSTOMERS_SQL, {"limit": limit})
    return {"customers": rows, "count": len(rows), "limit": limit}


@router.get("/customers/{customer_id}", response_model=Customer, summary="Get one customer")
async def get_customer(request: Request, customer_id: int) -> dict[str, Any]:
    return await _one(request, CUSTOMER_SQL, {"id": customer_id}, "Customer")


@router.get("/products", response_model=ProductList, summary="List products")
async def list_products(request: Request, limit: Limit = 50) -> dict[str, Any]:
    rows = await _rows(request, PRODUCTS_SQL, {"limit": limit})
    return {"products": rows, "count": len(rows), "limit": limit}


@router.get("/products/summary", response_model=ProductSummary, summary="Products, stock and its value")
async def products_summary(request: Request) -> dict[str, Any]:
    return (await _rows(request, PRODUCT_SUMMARY_SQL, {}))[0]


@router.get("/products/{product_id}", response_model=Product, summary="Get one product")
async def get_product(request: Request, product_id: int) -> dict[str, Any]:
    return await _one(request, PRODUCT_SQL, {"id": product_id}, "Product")


@router.get("/invoices", response_model=InvoiceList, summary="List invoices, optionally of one status")
async def list_invoices(request: Request, status: InvoiceStatus | None = None) -> dict[str, Any]:
    rows = await _rows(request, INVOICES_SQL, {"status": status})
    return {"invoices": rows, "count": len(rows), "status": status}


@router.get("/invoices/{invoice_id}", response_model=Invoice, summary="Get one invoice")
async def get_invoice(request: Request, invoice_id: int) -> dict[str, Any]:
    return await _one(request, INVOICE_SQL, {"id": invoice_id}, "Invoice")
