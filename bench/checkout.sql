-- pgbench script: one paid order per run, with the statements that shopctl sends for it
-- (shopctl/infrastructure/db/orders.py, carts.py, payments.py, products.py, users.py and
-- payments/mock.py), in the same transactions and round trips: shopctl sends the BEGIN of a
-- unit of work with its first statement, and the writes whose outcome it does not read with
-- the COMMIT, each group as one pipeline (\startpipeline … \endpipeline here). What shopctl
-- computes in Python from the rows it read (prices, totals, order line snapshots, counter
-- changes) is computed here from the seed: product n has id n, sku BENCH-n, name
-- 'Bench product n' and price 1 + n % 97, and shopper n's cart has id n (pgbench cannot keep
-- a value read inside a pipeline). Run by bench/checkout on a database loaded with
-- bench/checkout_schema.sql and seeded with products 1..:products, shoppers 1..clients and
-- their carts (each client is its own shopper, as each simulate worker has its own).
-- -D full_flow=1 also runs what simulate does before the checkout: browse, two cart adds.
-- Keep it in step with shopctl's SQL: the comparison is only honest if both sides run the
-- same statements with the same transaction boundaries. Each statement is labelled with the
-- name of shopctl's constant (-- LOCK_ORDER); tests/unit/test_bench_statements.py fails when
-- the two differ beyond their parameters, or, for the few adapted ones, in their shape.

\set uid :client_id + 1
\set p1 random(1, :products)
\set p2 1 + (:p1 + random(0, :products - 2)) % :products
\set q1 random(1, 3)
\set q2 random(1, 3)
\set price1 1 + :p1 % 97
\set price2 1 + :p2 % 97
\set total :price1 * :q1 + :price2 * :q2
\set units :q1 + :q2
\set cart_id :uid
\set unchanged 0
\set sold1 0 - :q1
\set sold2 0 - :q2
-- The new rows' ids: shopctl sends the order with the placement's COMMIT, and the payment
-- attempt with its own, and takes their ids from that round trip's results, which pgbench
-- cannot read inside a pipeline (\gset). So the script names them itself, rising as a sequence's would, from first_order (above every
-- id stored: bench/checkout passes it, and placed=0).
\set placed :placed + 1
\set order_id :first_order + :placed * 1000 + :client_id
\set r1 2 * :order_id
\set r2 2 * :order_id + 1
\set payment_id :order_id

\if :full_flow
-- Browse a catalog page (ListProducts: one statement in autocommit).
\set page_size 10
\set page random(0, :products - :page_size)
-- LIST_PRODUCTS
SELECT id, sku, name, description, price, stock_on_hand, reserved, active, created_at,
       updated_at
FROM products
WHERE active
ORDER BY sku LIMIT :page_size OFFSET :page;
-- AddToCart, once per line: the session check and the product by SKU go with the cart's
-- lock (which reads its lines: nobody else edits them, so they are current); then the line
-- is written with the COMMIT.
\startpipeline
BEGIN;
-- USER_BY_ID: the use case checks its user as stored now
SELECT id, email, password_hash, role, active, created_at FROM users WHERE id = :uid;
-- PRODUCT_BY_SKU
SELECT id, sku, name, description, price, stock_on_hand, reserved, active, created_at,
       updated_at
FROM products WHERE sku = 'BENCH-' || :p1;
-- LOCK_CART_WITH_LINES
WITH locked AS (INSERT INTO carts (user_id) VALUES (:uid)
ON CONFLICT (user_id) DO UPDATE SET updated_at = now(), version = carts.version + 1
RETURNING id, version)
SELECT locked.id AS cart_id,
       locked.version = coalesce(
           (SELECT version FROM carts WHERE user_id = :uid), -1) + 1 AS current,
       l.quantity, p.id, p.sku, p.name, p.description, p.price,
       p.stock_on_hand, p.reserved, p.active, p.created_at, p.updated_at
FROM locked
LEFT JOIN cart_lines l ON l.cart_id = locked.id
LEFT JOIN products p ON p.id = l.product_id
ORDER BY p.sku;
\endpipeline
\startpipeline
-- PUT_CART_LINE
INSERT INTO cart_lines (cart_id, product_id, quantity)
VALUES (:cart_id, :p1, :q1)
ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity;
COMMIT;
\endpipeline
\startpipeline
BEGIN;
-- USER_BY_ID: the use case checks its user as stored now
SELECT id, email, password_hash, role, active, created_at FROM users WHERE id = :uid;
-- PRODUCT_BY_SKU
SELECT id, sku, name, description, price, stock_on_hand, reserved, active, created_at,
       updated_at
FROM products WHERE sku = 'BENCH-' || :p2;
-- LOCK_CART_WITH_LINES
WITH locked AS (INSERT INTO carts (user_id) VALUES (:uid)
ON CONFLICT (user_id) DO UPDATE SET updated_at = now(), version = carts.version + 1
RETURNING id, version)
SELECT locked.id AS cart_id,
       locked.version = coalesce(
           (SELECT version FROM carts WHERE user_id = :uid), -1) + 1 AS current,
       l.quantity, p.id, p.sku, p.name, p.description, p.price,
       p.stock_on_hand, p.reserved, p.active, p.created_at, p.updated_at
FROM locked
LEFT JOIN cart_lines l ON l.cart_id = locked.id
LEFT JOIN products p ON p.id = l.product_id
ORDER BY p.sku;
\endpipeline
\startpipeline
-- PUT_CART_LINE
INSERT INTO cart_lines (cart_id, product_id, quantity)
VALUES (:cart_id, :p2, :q2)
ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity;
COMMIT;
\endpipeline
\else
-- Place + pay only (the target's comparison): the cart is filled with one statement, the
-- cheapest way to give PlaceOrder something to order.
WITH cart AS (
    INSERT INTO carts (user_id) VALUES (:uid)
    ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
    RETURNING id
)
INSERT INTO cart_lines (cart_id, product_id, quantity)
SELECT cart.id, line.product_id, line.quantity
FROM cart, unnest(ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)],
                  ARRAY[CAST(:q1 AS integer), CAST(:q2 AS integer)])
     AS line(product_id, quantity)
ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity;
\endif

-- 1. place the order (PlaceOrder: one transaction)
\startpipeline
BEGIN;
-- USER_BY_ID: the use case checks its user as stored now
SELECT id, email, password_hash, role, active, created_at FROM users WHERE id = :uid;
-- LOCK_CART_WITH_LINES (the cart locked and its lines read, in one statement)
WITH locked AS (INSERT INTO carts (user_id) VALUES (:uid)
ON CONFLICT (user_id) DO UPDATE SET updated_at = now(), version = carts.version + 1
RETURNING id, version)
SELECT locked.id AS cart_id,
       locked.version = coalesce(
           (SELECT version FROM carts WHERE user_id = :uid), -1) + 1 AS current,
       l.quantity, p.id, p.sku, p.name, p.description, p.price,
       p.stock_on_hand, p.reserved, p.active, p.created_at, p.updated_at
FROM locked
LEFT JOIN cart_lines l ON l.cart_id = locked.id
LEFT JOIN products p ON p.id = l.product_id
ORDER BY p.sku;
-- LOCK_CART_PRODUCTS: the cart's products locked in id order, behind the cart's lock (with
-- due: held by an expired reservation?)
SELECT id, sku, name, description, price, stock_on_hand, reserved, active,
       created_at, updated_at,
       EXISTS (
           SELECT 1 FROM inventory_reservations r
           WHERE r.product_id = p.id AND r.status = 'active' AND r.expires_at <= now()
       ) AS due
FROM products p
WHERE p.id = ANY(ARRAY(SELECT l.product_id FROM carts c JOIN cart_lines l ON l.cart_id = c.id
                          WHERE c.user_id = :uid))
ORDER BY p.id
FOR UPDATE OF p;
\endpipeline
\startpipeline
-- ADD_ORDER: the order, its lines and its reservations in one statement (the values are
-- the snapshot shopctl took from the locked rows; the ids named, see above)
WITH new_order AS (
    INSERT INTO orders (id, user_id, status, total, units, currency, created_at, updated_at,
                        expires_at)
    VALUES (:order_id, :uid, 'pending_payment', :total, :units, 'USD', now(), now(),
            now() + interval '15 minutes')
    RETURNING id
), lines AS (
    INSERT INTO order_lines (order_id, product_id, sku, name, unit_price, quantity)
    SELECT new_order.id, line.*
    FROM new_order, unnest(
        ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)],
        ARRAY['BENCH-' || :p1, 'BENCH-' || :p2],
        ARRAY['Bench product ' || :p1, 'Bench product ' || :p2],
        ARRAY[CAST(:price1 AS numeric), CAST(:price2 AS numeric)],
        ARRAY[CAST(:q1 AS integer), CAST(:q2 AS integer)]
    ) AS line(product_id, sku, name, unit_price, quantity)
), held AS (
    INSERT INTO inventory_reservations
        (id, order_id, product_id, quantity, status, expires_at, created_at)
    SELECT held.id, new_order.id, held.product_id, held.quantity, 'active',
           now() + interval '15 minutes', now()
    FROM new_order, unnest(ARRAY[CAST(:r1 AS bigint), CAST(:r2 AS bigint)],
                           ARRAY[CAST(:p1 AS bigint), CAST(:p2 AS bigint)],
                           ARRAY[CAST(:q1 AS integer), CAST(:q2 AS integer)])
         AS held(id, product_id, quantity)
    RETURNING id, product_id
)
SELECT new_order.id AS order_id, held.id, held.product_id FROM new_order LEFT JOIN held ON true;
-- SAVE_COUNTERS, then SAVE_COUNTERS: reserve, one product per statement (relative
-- counters; a reservation has no ledger entry)
UPDATE products
SET stock_on_hand = stock_on_hand + :unchanged, reserved = reserved + :q1,
    updated_at = now()
WHERE id = :p1;
UPDATE products
SET stock_on_hand = stock_on_hand + :unchanged, reserved = reserved + :q2,
    updated_at = now()
WHERE id = :p2;
-- CLEAR_CART: empty the cart (it was read under its lock)
DELETE FROM cart_lines WHERE cart_id = :cart_id;
COMMIT;
\endpipeline

-- 2. pay (PayOrder): record the attempt
\startpipeline
BEGIN;
-- USER_BY_ID: the use case checks its user as stored now
SELECT id, email, password_hash, role, active, created_at FROM users WHERE id = :uid;
-- LOCK_ORDER: the order with its lines and reservations, FOR UPDATE OF o, r
SELECT o.id, o.user_id, o.status, o.currency, o.created_at, o.expires_at, o.paid_at,
       l.product_id, l.sku, l.name, l.unit_price, l.quantity,
       r.id AS reservation_id, r.quantity AS reserved_quantity, r.status AS reservation_status,
       r.expires_at AS reservation_expires_at
FROM orders o
JOIN order_lines l ON l.order_id = o.id
JOIN inventory_reservations r ON r.order_id = o.id AND r.product_id = l.product_id
WHERE o.id = :order_id ORDER BY l.product_id FOR UPDATE OF o, r;
-- PAYMENTS_OF_ORDER (behind the lock: as its last holder left them)
SELECT id, order_id, amount, currency, idempotency_key, status, gateway_reference,
       decline_code, created_at
FROM payments
WHERE order_id = :order_id ORDER BY id;
\endpipeline
\startpipeline
-- ADD_PAYMENT (the id named, as the order's)
INSERT INTO payments (id, order_id, amount, currency, status, idempotency_key,
                      gateway_reference, decline_code)
VALUES (:payment_id, :order_id, :total, 'USD', 'pending',
        'order-' || :order_id || '-card-bench-try-0', NULL, NULL)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id, created_at;
COMMIT;
\endpipeline

-- 3. the mock gateway records the charge (one statement, in autocommit)
-- RECORD_CHARGE
INSERT INTO mock_gateway_charges
    (idempotency_key, kind, reference, amount, currency, card_fingerprint, status, decline_code)
VALUES ('order-' || :order_id || '-card-bench-try-0', 'charge',
        'ch_' || substr(md5(random()::text), 1, 24), :total, 'USD', 'bench', 'succeeded', NULL)
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING reference AS charge_reference, status, decline_code \gset

-- 4. record the result: commit the reservations, sale movements, order paid
\startpipeline
BEGIN;
-- LOCK_ORDER
SELECT o.id, o.user_id, o.status, o.currency, o.created_at, o.expires_at, o.paid_at,
       l.product_id, l.sku, l.name, l.unit_price, l.quantity,
       r.id AS reservation_id, r.quantity AS reserved_quantity, r.status AS reservation_status,
       r.expires_at AS reservation_expires_at
FROM orders o
JOIN order_lines l ON l.order_id = o.id
JOIN inventory_reservations r ON r.order_id = o.id AND r.product_id = l.product_id
WHERE o.id = :order_id ORDER BY l.product_id FOR UPDATE OF o, r;
-- PAYMENT_BY_KEY (behind the lock)
SELECT id, order_id, amount, currency, idempotency_key, status, gateway_reference,
       decline_code, created_at
FROM payments
WHERE idempotency_key = 'order-' || :order_id || '-card-bench-try-0';
-- LOCK_ORDER_PRODUCTS: the products the order's reservations hold, locked in id order behind
-- the order's lock (no due)
SELECT id, sku, name, description, price, stock_on_hand, reserved, active,
       created_at, updated_at,
       false AS due
FROM products p
WHERE p.id = ANY(ARRAY(SELECT h.product_id FROM inventory_reservations h
                          WHERE h.order_id = :order_id AND h.status = 'active'))
ORDER BY p.id
FOR UPDATE OF p;
\endpipeline
\startpipeline
-- SAVE_PRODUCT, then SAVE_PRODUCT: commit the reservations (relative counters) and the
-- sale movements, one product per statement
WITH counters AS (UPDATE products
SET stock_on_hand = stock_on_hand + :sold1, reserved = reserved + :sold1,
    updated_at = now()
WHERE id = :p1)
INSERT INTO stock_movements (product_id, delta, reason, actor, order_id, note)
SELECT * FROM unnest(ARRAY[CAST(:p1 AS bigint)], ARRAY[CAST(:sold1 AS integer)],
                     ARRAY['sale'], ARRAY['bench'], ARRAY[CAST(:order_id AS bigint)],
                     ARRAY[CAST(NULL AS text)]);
WITH counters AS (UPDATE products
SET stock_on_hand = stock_on_hand + :sold2, reserved = reserved + :sold2,
    updated_at = now()
WHERE id = :p2)
INSERT INTO stock_movements (product_id, delta, reason, actor, order_id, note)
SELECT * FROM unnest(ARRAY[CAST(:p2 AS bigint)], ARRAY[CAST(:sold2 AS integer)],
                     ARRAY['sale'], ARRAY['bench'], ARRAY[CAST(:order_id AS bigint)],
                     ARRAY[CAST(NULL AS text)]);
-- UPDATE_ORDER: the reservations by id, then the order
WITH settled AS (
    UPDATE inventory_reservations r SET status = s.status
    FROM unnest(ARRAY[CAST(:r1 AS bigint), CAST(:r2 AS bigint)],
                ARRAY['committed', 'committed']) AS s(id, status)
    WHERE r.order_id = :order_id AND r.id = s.id AND r.status <> s.status
)
UPDATE orders SET status = 'paid', paid_at = now(), updated_at = now()
WHERE id = :order_id;
-- UPDATE_PAYMENT
UPDATE payments SET status = 'succeeded', gateway_reference = :charge_reference,
       decline_code = NULL, updated_at = now()
WHERE id = :payment_id;
COMMIT;
\endpipeline
