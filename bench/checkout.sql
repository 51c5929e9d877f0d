-- pgbench script: one paid order per run, with the SQL that shopctl sends for it
-- (shopctl/infrastructure/database/purchase.py, payments/mock.py), statement for statement.
-- Run by bench/checkout on a database loaded with bench/checkout_schema.sql and seeded with
-- products 1..:products and shoppers 1..:clients (each client is its own shopper, as each
-- simulate worker has its own shoppers). Variables: -D products=N.

\set uid :client_id + 1
\set p1 random(1, :products)
\set p2 1 + (:p1 + random(0, :products - 2)) % :products
\set q1 random(1, 3)
\set q2 random(1, 3)

-- The cart is filled first (shopctl: `cart add` per line; here one statement, not compared).
INSERT INTO carts (user_id) VALUES (CAST(:uid AS bigint))
ON CONFLICT (user_id) DO UPDATE SET updated_at = now() RETURNING id AS cart_id \gset
INSERT INTO cart_lines (cart_id, product_id, quantity)
VALUES (CAST(:cart_id AS bigint), CAST(:p1 AS bigint), CAST(:q1 AS integer)),
       (CAST(:cart_id AS bigint), CAST(:p2 AS bigint), CAST(:q2 AS integer))
ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity;

-- 1. place the order (PlaceOrder: one transaction)
BEGIN;
-- lock the cart, read its lines with their products
SELECT carts.id AS cart_id, cart_lines.quantity, products.*
FROM carts
LEFT OUTER JOIN cart_lines ON cart_lines.cart_id = carts.id
LEFT OUTER JOIN products ON products.id = cart_lines.product_id
WHERE carts.user_id = CAST(:uid AS bigint)
ORDER BY products.sku
FOR UPDATE OF carts;
-- lock the products in ascending id order; is any of them held by an expired reservation?
SELECT products.*, EXISTS (
    SELECT * FROM inventory_reservations
    WHERE inventory_reservations.product_id = products.id
      AND inventory_reservations.status = 'active'
      AND inventory_reservations.expires_at <= now()) AS due
FROM products
WHERE products.id IN (CAST(:p1 AS bigint), CAST(:p2 AS bigint))
ORDER BY products.id
FOR UPDATE OF products;
-- the order, its lines and its reservations in one statement
WITH item AS (
    SELECT p.id, p.sku, p.name, p.price, q.quantity
    FROM products p
    JOIN (VALUES (CAST(:p1 AS bigint), CAST(:q1 AS integer)),
                 (CAST(:p2 AS bigint), CAST(:q2 AS integer))) AS q(id, quantity)
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
-- reserve: the counters of the locked products
UPDATE products p
SET reserved = p.reserved + c.quantity, updated_at = now()
FROM (VALUES (CAST(:p1 AS bigint), CAST(:q1 AS integer)),
             (CAST(:p2 AS bigint), CAST(:q2 AS integer))) AS c(id, quantity)
WHERE p.id = c.id;
-- empty the cart
WITH cart AS (
    INSERT INTO carts (user_id) VALUES (CAST(:uid AS bigint))
    ON CONFLICT (user_id) DO UPDATE SET updated_at = now()
    RETURNING id
), gone AS (
    DELETE FROM cart_lines USING cart
    WHERE cart_lines.cart_id = cart.id AND NOT (cart_lines.product_id = ANY('{}'::bigint[]))
)
SELECT id FROM cart;
COMMIT;

-- 2. pay (PayOrder): record the attempt
BEGIN;
SELECT * FROM orders WHERE orders.id = CAST(:order_id AS bigint) FOR UPDATE;
SELECT order_lines.*, r.id AS reservation_id, r.quantity AS reserved_quantity,
       r.status AS reservation_status, r.expires_at AS reservation_expires_at
FROM order_lines
LEFT OUTER JOIN inventory_reservations r
  ON r.order_id = order_lines.order_id AND r.product_id = order_lines.product_id
WHERE order_lines.order_id IN (CAST(:order_id AS bigint))
ORDER BY order_lines.order_id, order_lines.product_id;
SELECT * FROM payments WHERE payments.order_id = CAST(:order_id AS bigint) ORDER BY payments.id;
SELECT * FROM payments
WHERE payments.idempotency_key = 'order-' || :order_id || '-card-bench-try-0';
INSERT INTO payments (order_id, amount, currency, status, idempotency_key)
SELECT id, total, currency, 'pending', 'order-' || :order_id || '-card-bench-try-0'
FROM orders WHERE id = CAST(:order_id AS bigint)
RETURNING payments.id AS payment_id, payments.created_at \gset
COMMIT;

-- 3. the mock gateway records the charge (its own short transaction)
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
SELECT * FROM orders WHERE orders.id = CAST(:order_id AS bigint) FOR UPDATE;
SELECT order_lines.*, r.id AS reservation_id, r.quantity AS reserved_quantity,
       r.status AS reservation_status, r.expires_at AS reservation_expires_at
FROM order_lines
LEFT OUTER JOIN inventory_reservations r
  ON r.order_id = order_lines.order_id AND r.product_id = order_lines.product_id
WHERE order_lines.order_id IN (CAST(:order_id AS bigint))
ORDER BY order_lines.order_id, order_lines.product_id;
SELECT * FROM payments
WHERE payments.idempotency_key = 'order-' || :order_id || '-card-bench-try-0';
SELECT products.* FROM products
WHERE products.id IN (CAST(:p1 AS bigint), CAST(:p2 AS bigint))
ORDER BY products.id
FOR UPDATE OF products;
UPDATE products p
SET stock_on_hand = p.stock_on_hand - c.quantity, reserved = p.reserved - c.quantity,
    updated_at = now()
FROM (VALUES (CAST(:p1 AS bigint), CAST(:q1 AS integer)),
             (CAST(:p2 AS bigint), CAST(:q2 AS integer))) AS c(id, quantity)
WHERE p.id = c.id;
INSERT INTO stock_movements (product_id, delta, reason, actor, order_id, note)
VALUES (CAST(:p1 AS bigint), -CAST(:q1 AS integer), 'sale', 'bench', CAST(:order_id AS bigint), NULL),
       (CAST(:p2 AS bigint), -CAST(:q2 AS integer), 'sale', 'bench', CAST(:order_id AS bigint), NULL);
WITH settled AS (
    UPDATE inventory_reservations r SET status = 'committed'
    WHERE r.order_id = CAST(:order_id AS bigint) AND r.status <> 'committed'
)
UPDATE orders SET status = 'paid', paid_at = now(), updated_at = now()
WHERE id = CAST(:order_id AS bigint);
UPDATE payments SET status = 'succeeded', gateway_reference = :charge_reference,
    decline_code = NULL, updated_at = now()
WHERE payments.id = CAST(:payment_id AS bigint);
COMMIT;
