-- pgbench script: one paid order per run, with the statements that shopctl sends for it
-- (shopctl/infrastructure/database/purchase.py and payments/mock.py), in the same
-- transactions. Values that shopctl computes in Python (prices, totals, absolute counters)
-- are computed here in SQL from the same rows. Run by bench/checkout on a database loaded
-- with bench/checkout_schema.sql and seeded with products 1..:products and shoppers
-- 1..clients (each client is its own shopper, as each simulate worker has its own).
-- -D full_flow=1 also runs what simulate does before the checkout: browse, cart adds.

\set uid :client_id + 1
\set p1 random(1, :products)
\set p2 1 + (:p1 + random(0, :products - 2)) % :products
\set q1 random(1, 3)
\set q2 random(1, 3)

\if :full_flow
-- The whole simulate flow: browse a catalog page (ListProducts: search, ORDER BY sku,
-- LIMIT/OFFSET in a read-only transaction), then one AddToCart transaction per line
-- (lock the cart, read the product by SKU, SAVE_CART with every line).
\set page random(0, :products - 10)
BEGIN;
SELECT products.id, products.sku, products.name, products.description, products.price,
       products.stock_on_hand, products.reserved, products.active, products.created_at,
       products.updated_at
FROM products
WHERE products.active AND (products.sku ILIKE '%BENCH-%' OR products.name ILIKE '%BENCH-%')
ORDER BY products.sku
LIMIT 10 OFFSET CAST(:page AS bigint);
ROLLBACK;
BEGIN;
SELECT c.id AS cart_id, l.quantity, p.id, p.sku, p.name, p.description, p.price,
       p.stock_on_hand, p.reserved, p.active, p.created_at, p.updated_at
FROM carts c
LEFT JOIN cart_lines l ON l.cart_id = c.id
LEFT JOIN products p ON p.id = l.product_id
WHERE c.user_id = CAST(:uid AS bigint)
ORDER BY p.sku
FOR UPDATE OF c;
SELECT products.id, products.sku, products.name, products.description, products.price,
       products.stock_on_hand, products.reserved, products.active, products.created_at,
       products.updated_at
FROM products WHERE products.sku = 'BENCH-' || :p1;
WITH cart AS (
    INSERT INTO carts (user_id) VALUES (CAST(:uid AS bigint))
    ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
    RETURNING id
), gone AS (
    DELETE FROM cart_lines USING cart
    WHERE cart_lines.cart_id = cart.id
      AND NOT (cart_lines.product_id = ANY(ARRAY[CAST(:p1 AS bigint)]))
), kept AS (
    INSERT INTO cart_lines (cart_id, product_id, quantity)
    SELECT cart.id, line.product_id, line.quantity
    FROM cart, unnest(ARRAY[CAST(:p1 AS bigint)], ARRAY[CAST(:q1 AS integer)])
         AS line(product_id, quantity)
    ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity
)
SELECT id FROM cart;
COMMIT;
BEGIN;
SELECT c.id AS cart_id, l.quantity, p.id, p.sku, p.name, p.description, p.price,
       p.stock_on_hand, p.reserved, p.active, p.created_at, p.updated_at
FROM carts c
LEFT JOIN cart_lines l ON l.cart_id = c.id
LEFT JOIN products p ON p.id = l.product_id
WHERE c.user_id = CAST(:uid AS bigint)
ORDER BY p.sku
FOR UPDATE OF c;
SELECT products.id, products.sku, products.name, products.description, products.price,
       products.stock_on_hand, products.reserved, products.active, products.created_at,
       products.updated_at
FROM products WHERE products.sku = 'BENCH-' || :p2;
WITH cart AS (
    INSERT INTO carts (user_id) VALUES (CAST(:uid AS bigint))
    ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
    RETURNING id
), gone AS (
    DELETE FROM cart_lines USING cart
    WHERE cart_lines.cart_id = cart.id
      AND NOT (cart_lines.product_id = ANY(ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)]))
), kept AS (
    INSERT INTO cart_lines (cart_id, product_id, quantity)
    SELECT cart.id, line.product_id, line.quantity
    FROM cart, unnest(ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)],
                      ARRAY[CAST(:q1 AS integer), CAST(:q2 AS integer)])
         AS line(product_id, quantity)
    ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity
)
SELECT id FROM cart;
COMMIT;
\else
-- Place + pay only (the SPEC comparison): the cart is filled with one statement.
INSERT INTO carts (user_id) VALUES (CAST(:uid AS bigint))
ON CONFLICT (user_id) DO UPDATE SET updated_at = now() RETURNING id AS cart_id \gset
INSERT INTO cart_lines (cart_id, product_id, quantity)
VALUES (CAST(:cart_id AS bigint), CAST(:p1 AS bigint), CAST(:q1 AS integer)),
       (CAST(:cart_id AS bigint), CAST(:p2 AS bigint), CAST(:q2 AS integer))
ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity;
\endif

-- 1. place the order (PlaceOrder: one transaction)
BEGIN;
-- GET_CART ... FOR UPDATE OF c
SELECT c.id AS cart_id, l.quantity, p.id, p.sku, p.name, p.description, p.price,
       p.stock_on_hand, p.reserved, p.active, p.created_at, p.updated_at
FROM carts c
LEFT JOIN cart_lines l ON l.cart_id = c.id
LEFT JOIN products p ON p.id = l.product_id
WHERE c.user_id = CAST(:uid AS bigint)
ORDER BY p.sku
FOR UPDATE OF c;
-- LOCK_PRODUCTS (with due_at: held by an expired reservation?)
SELECT p.id, p.sku, p.name, p.description, p.price, p.stock_on_hand, p.reserved, p.active,
       p.created_at, p.updated_at,
       now() IS NOT NULL AND EXISTS (
           SELECT 1 FROM inventory_reservations r
           WHERE r.product_id = p.id AND r.status = 'active' AND r.expires_at <= now()
       ) AS due
FROM products p
WHERE p.id = ANY(ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)])
ORDER BY p.id
FOR UPDATE OF p;
-- ADD_ORDER: the order, its lines and its reservations in one statement
WITH item AS (
    SELECT p.id, p.sku, p.name, p.price, q.quantity
    FROM products p
    JOIN unnest(ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)],
                ARRAY[CAST(:q1 AS integer), CAST(:q2 AS integer)]) AS q(id, quantity)
      ON q.id = p.id
), new_order AS (
    INSERT INTO orders (user_id, status, total, currency, created_at, updated_at, expires_at)
    SELECT CAST(:uid AS bigint), 'pending_payment', sum(price * quantity), 'USD',
           now(), now(), now() + interval '15 minutes'
    FROM item
    RETURNING id
), lines AS (
    INSERT INTO order_lines (order_id, product_id, sku, name, unit_price, quantity)
    SELECT new_order.id, item.id, item.sku, item.name, item.price, item.quantity
    FROM new_order, item
), held AS (
    INSERT INTO inventory_reservations
        (order_id, product_id, quantity, status, expires_at, created_at)
    SELECT new_order.id, item.id, item.quantity, 'active', now() + interval '15 minutes', now()
    FROM new_order, item
    RETURNING id, product_id
)
SELECT min(new_order.id) AS order_id FROM new_order LEFT JOIN held ON true \gset
-- SAVE_PRODUCTS: reserve (counters; no ledger entry for a reservation)
WITH counters AS (
    UPDATE products p
    SET stock_on_hand = p.stock_on_hand, reserved = p.reserved + c.quantity, updated_at = now()
    FROM unnest(ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)],
                ARRAY[CAST(:q1 AS integer), CAST(:q2 AS integer)]) AS c(id, quantity)
    WHERE p.id = c.id
)
INSERT INTO stock_movements (product_id, delta, reason, actor, order_id, note)
SELECT * FROM unnest('{}'::bigint[], '{}'::integer[], '{}'::text[], '{}'::text[],
                     '{}'::bigint[], '{}'::text[]);
-- SAVE_CART: empty the cart
WITH cart AS (
    INSERT INTO carts (user_id) VALUES (CAST(:uid AS bigint))
    ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
    RETURNING id
), gone AS (
    DELETE FROM cart_lines USING cart
    WHERE cart_lines.cart_id = cart.id AND NOT (cart_lines.product_id = ANY('{}'::bigint[]))
), kept AS (
    INSERT INTO cart_lines (cart_id, product_id, quantity)
    SELECT cart.id, line.product_id, line.quantity
    FROM cart, unnest('{}'::bigint[], '{}'::integer[]) AS line(product_id, quantity)
    ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity
)
SELECT id FROM cart;
COMMIT;

-- 2. pay (PayOrder): record the attempt
BEGIN;
-- GET_ORDER ... FOR UPDATE OF o
SELECT o.id, o.user_id, o.status, o.currency, o.created_at, o.expires_at, o.paid_at,
       l.product_id, l.sku, l.name, l.unit_price, l.quantity,
       r.id AS reservation_id, r.quantity AS reserved_quantity, r.status AS reservation_status,
       r.expires_at AS reservation_expires_at
FROM orders o
JOIN order_lines l ON l.order_id = o.id
LEFT JOIN inventory_reservations r ON r.order_id = o.id AND r.product_id = l.product_id
WHERE o.id = CAST(:order_id AS bigint) ORDER BY l.product_id
FOR UPDATE OF o;
-- PAYMENTS_OF_ORDER
SELECT id, order_id, amount, currency, idempotency_key, status, gateway_reference,
       decline_code, created_at
FROM payments
WHERE order_id = CAST(:order_id AS bigint) ORDER BY id;
-- ADD_PAYMENT
INSERT INTO payments (order_id, amount, currency, status, idempotency_key, gateway_reference,
                      decline_code)
SELECT id, total, currency, 'pending', 'order-' || :order_id || '-card-bench-try-0', NULL, NULL
FROM orders WHERE id = CAST(:order_id AS bigint)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id AS payment_id, created_at \gset
COMMIT;

-- 3. the mock gateway records the charge (RECORD_CHARGE, its own short transaction)
BEGIN;
INSERT INTO mock_gateway_charges
    (idempotency_key, kind, reference, amount, currency, card_fingerprint, status, decline_code)
SELECT 'order-' || :order_id || '-card-bench-try-0', 'charge',
       'ch_' || substr(md5(random()::text), 1, 24), total, currency, 'bench', 'succeeded', NULL
FROM orders WHERE id = CAST(:order_id AS bigint)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING reference AS charge_reference, status, decline_code \gset
COMMIT;

-- 4. record the result: commit the reservations, sale movements, order paid
BEGIN;
SELECT o.id, o.user_id, o.status, o.currency, o.created_at, o.expires_at, o.paid_at,
       l.product_id, l.sku, l.name, l.unit_price, l.quantity,
       r.id AS reservation_id, r.quantity AS reserved_quantity, r.status AS reservation_status,
       r.expires_at AS reservation_expires_at
FROM orders o
JOIN order_lines l ON l.order_id = o.id
LEFT JOIN inventory_reservations r ON r.order_id = o.id AND r.product_id = l.product_id
WHERE o.id = CAST(:order_id AS bigint) ORDER BY l.product_id
FOR UPDATE OF o;
-- PAYMENT_BY_KEY
SELECT id, order_id, amount, currency, idempotency_key, status, gateway_reference,
       decline_code, created_at
FROM payments
WHERE idempotency_key = 'order-' || :order_id || '-card-bench-try-0';
-- LOCK_PRODUCTS (no due_at)
SELECT p.id, p.sku, p.name, p.description, p.price, p.stock_on_hand, p.reserved, p.active,
       p.created_at, p.updated_at,
       CAST(NULL AS timestamptz) IS NOT NULL AND EXISTS (
           SELECT 1 FROM inventory_reservations r
           WHERE r.product_id = p.id AND r.status = 'active'
             AND r.expires_at <= CAST(NULL AS timestamptz)
       ) AS due
FROM products p
WHERE p.id = ANY(ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)])
ORDER BY p.id
FOR UPDATE OF p;
-- SAVE_PRODUCTS: commit the reservations (counters) and the sale movements, one statement
WITH counters AS (
    UPDATE products p
    SET stock_on_hand = p.stock_on_hand - c.quantity, reserved = p.reserved - c.quantity,
        updated_at = now()
    FROM unnest(ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)],
                ARRAY[CAST(:q1 AS integer), CAST(:q2 AS integer)]) AS c(id, quantity)
    WHERE p.id = c.id
)
INSERT INTO stock_movements (product_id, delta, reason, actor, order_id, note)
SELECT * FROM unnest(ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)],
                     ARRAY[-CAST(:q1 AS integer), -CAST(:q2 AS integer)],
                     ARRAY['sale', 'sale'], ARRAY['bench', 'bench'],
                     ARRAY[CAST(:order_id AS bigint), CAST(:order_id AS bigint)],
                     ARRAY[CAST(NULL AS text), CAST(NULL AS text)]);
-- UPDATE_ORDER
WITH settled AS (
    UPDATE inventory_reservations r SET status = 'committed'
    WHERE r.order_id = CAST(:order_id AS bigint) AND r.status <> 'committed'
)
UPDATE orders SET status = 'paid', paid_at = now(), updated_at = now()
WHERE id = CAST(:order_id AS bigint);
-- UPDATE_PAYMENT
UPDATE payments SET status = 'succeeded', gateway_reference = :charge_reference,
       decline_code = NULL, updated_at = now()
WHERE id = CAST(:payment_id AS bigint);
COMMIT;
