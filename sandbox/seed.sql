-- TSH ERP sandbox seed: a deterministic data set (the same rows, ids and timestamps on every start),
-- loaded once the migrations have built the schema.

INSERT INTO customers (zoho_contact_id, name, email, phone, is_active, created_at, updated_at)
SELECT (4600000000000 + i)::text,
       'Customer ' || lpad(i::text, 3, '0'),
       'customer' || lpad(i::text, 3, '0') || '@example.com',
       '+964770' || lpad(i::text, 7, '0'),
       true,
       timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => i),
       timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => i)
FROM generate_series(1, 50) AS i
ORDER BY i;

INSERT INTO products (zoho_item_id, name, sku, price, stock_on_hand, is_active, created_at, updated_at)
SELECT (4700000000000 + i)::text,
       'Product ' || lpad(i::text, 3, '0'),
       'SKU-' || lpad(i::text, 4, '0'),
       round(i * 7.25, 2),
       (i * 13) % 200,
       true,
       timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => i),
       timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => i)
FROM generate_series(1, 80) AS i
ORDER BY i;

INSERT INTO invoices (zoho_invoice_id, invoice_number, customer_id, total, status, created_at, updated_at)
SELECT (4800000000000 + i)::text,
       'INV-' || lpad(i::text, 6, '0'),
       (i - 1) % 50 + 1,
       round(i * 41.5, 2),
       (ARRAY['paid', 'sent', 'overdue'])[i % 3 + 1],
       timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => i),
       timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => i)
FROM generate_series(1, 30) AS i
ORDER BY i;

INSERT INTO sales_orders (order_number, zoho_salesorder_id, customer_id, total, status, created_at, updated_at)
SELECT 'SO-' || lpad(i::text, 5, '0'),
       (4900000000000 + i)::text,
       (i * 3 - 1) % 50 + 1,
       round(i * 63.75, 2),
       (ARRAY['confirmed', 'fulfilled'])[i % 2 + 1],
       timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => i),
       timestamptz '2026-01-01 00:00:00+00' + make_interval(mins => i)
FROM generate_series(1, 20) AS i
ORDER BY i;

