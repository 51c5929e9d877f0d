-- Reference schema for the checkout speed limit: the least SQL that simulate's whole flow
-- (browse a page, add two lines to the cart, place, pay) must run on PostgreSQL, with the stock
-- ledger row per stock change that shopctl keeps. pgbench drives it (checkout_least.pgbench);
-- bench/checkout compares simulate to it.
-- Load: psql -f checkout_least.sql; run: pgbench -n -c 8 -j 2 -T 15 -f checkout_least.pgbench
drop table if exists ref_stock_movements, ref_payments, ref_reservations, ref_order_lines, ref_orders, ref_cart_items, ref_products;
create table ref_products(id int primary key, sku text unique not null, price numeric(12,2) not null,
  stock_on_hand int not null check (stock_on_hand >= 0), reserved int not null default 0 check (reserved >= 0 and reserved <= stock_on_hand));
create table ref_orders(id bigserial primary key, user_id int not null, status text not null, total numeric(12,2) not null,
  created_at timestamptz not null default now(), expires_at timestamptz not null, paid_at timestamptz);
create table ref_order_lines(order_id bigint not null references ref_orders, product_id int not null references ref_products,
  quantity int not null, unit_price numeric(12,2) not null, primary key(order_id, product_id));
create table ref_reservations(id bigserial primary key, order_id bigint not null references ref_orders, product_id int not null references ref_products,
  quantity int not null, status text not null, expires_at timestamptz not null);
create index on ref_reservations(order_id);
create table ref_cart_items(user_id int not null, product_id int not null, quantity int not null, primary key(user_id, product_id));
create table ref_payments(id bigserial primary key, order_id bigint not null references ref_orders, amount numeric(12,2) not null,
  status text not null, idempotency_key text unique not null);
create table ref_stock_movements(id bigserial primary key, product_id int not null references ref_products,
  delta int not null, reason text not null, order_id bigint, created_at timestamptz not null default now());
create index on ref_stock_movements(product_id);
insert into ref_products select g, 'SKU-'||g, 10.00, 1000000000, 0 from generate_series(1, 1000) g;
