"""The composition root: the one place that wires use cases to their adapters.

Nothing here connects or imports a driver until a use case is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from shopctl.infrastructure.config import Settings

if TYPE_CHECKING:
    from datetime import date

    from shopctl.application.audit import RunAudit
    from shopctl.application.carts import (
        AddToCart,
        ClearCart,
        RemoveFromCart,
        SetCartQuantity,
        ShowCart,
    )
    from shopctl.application.catalog import ExportCatalog, ImportCatalog
    from shopctl.application.orders import (
        CancelOrder,
        FulfillOrder,
        GetOrder,
        ListOrders,
        ListReservations,
        PlaceOrder,
        ReleaseExpiredReservations,
    )
    from shopctl.application.payments import ListPayments, PayOrder
    from shopctl.application.ports import (
        Clock,
        PasswordHasher,
        PaymentGateway,
        SessionStore,
        TokenService,
    )
    from shopctl.application.products import (
        ChangeStock,
        CreateProduct,
        DeleteProduct,
        GetProduct,
        ListProducts,
        UpdateProduct,
    )
    from shopctl.application.reports import (
        ExportOrders,
        LowStock,
        SalesLedger,
        SalesReport,
        TopProducts,
    )
    from shopctl.application.sessions import Authenticate, LogIn, LogOut, RefreshSession
    from shopctl.application.users import (
        CreateAdmin,
        DeactivateUser,
        ListUsers,
        RegisterUser,
        SetUserRole,
        WhoAmI,
    )
    from shopctl.infrastructure.db.connect import ConnectionSettings, Database
    from shopctl.infrastructure.db.imports import PostgresImportUnitOfWork
    from shopctl.infrastructure.db.reads import PostgresReader
    from shopctl.infrastructure.db.uow import PostgresUnitOfWork


class Shop:
    def __init__(
        self,
        settings: Settings,
        *,
        warn: Callable[[str], None] | None = None,
        application_name: str = "shopctl",
    ) -> None:
        self.settings = settings
        self.warn = warn or (lambda _message: None)
        self.application_name = application_name

    # -- database -------------------------------------------------------------------------

    @property
    def embedded(self) -> bool:
        return not self.settings.database_url

    @cached_property
    def connection_settings(self) -> ConnectionSettings:
        """How to connect: the configured URL, else the embedded server (started if needed)."""
        from shopctl.infrastructure.db.connect import ConnectionSettings

        url = self.settings.database_url
        if not url:
            from shopctl.infrastructure.db import embedded

            url = embedded.ensure_running(self.settings.data_dir).url()
        return ConnectionSettings(
            url,
            application_name=self.application_name,
            pooler=self.settings.database_pooler,
            statement_timeout_ms=self.settings.statement_timeout_ms,
            lock_timeout_ms=self.settings.lock_timeout_ms,
        )

    @property
    def database_url(self) -> str:
        return self.connection_settings.url

    @cached_property
    def database(self) -> Database:
        """This process's connections, one per thread, on a schema at the latest migration."""
        from shopctl.infrastructure.db.connect import Database

        return Database(self.connection_settings)

    def uow(self) -> PostgresUnitOfWork:
        from shopctl.infrastructure.db.uow import PostgresUnitOfWork

        return PostgresUnitOfWork(self.database)

    def read_uow(self) -> PostgresUnitOfWork:
        """A unit of work in which the database refuses writes: for use cases that only read."""
        from shopctl.infrastructure.db.uow import PostgresUnitOfWork

        return PostgresUnitOfWork(self.database, read_only=True)

    @cached_property
    def reader(self) -> PostgresReader:
        """The read side: browsing and the signing key, outside any unit of work."""
        from shopctl.infrastructure.db.reads import PostgresReader

        return PostgresReader(self.database)

    def import_uow(self) -> PostgresImportUnitOfWork:
        from shopctl.infrastructure.db.imports import PostgresImportUnitOfWork

        return PostgresImportUnitOfWork(self.database)

    def close(self) -> None:
        if "database" in self.__dict__:
            self.database.close()

    # -- security and sessions ------------------------------------------------------------

    @cached_property
    def clock(self) -> Clock:
        from shopctl.infrastructure.clock import SystemClock

        return SystemClock()

    @cached_property
    def password_hasher(self) -> PasswordHasher:
        from shopctl.infrastructure.security.passwords import Argon2PasswordHasher

        return Argon2PasswordHasher()

    def signing_key(self) -> bytes:
        """``SHOPCTL_JWT_SECRET`` when set, else the key kept in the database."""
        from shopctl.infrastructure.security.tokens import check_key

        if self.settings.jwt_secret:
            return check_key(self.settings.jwt_secret.encode(), source="SHOPCTL_JWT_SECRET")
        return self.reader.signing_key()

    @cached_property
    def tokens(self) -> TokenService:
        from shopctl.infrastructure.security.tokens import JwtTokenService

        return JwtTokenService(
            self.signing_key,
            access_ttl=self.settings.access_token_ttl,
            refresh_ttl=self.settings.refresh_token_ttl,
        )

    @cached_property
    def sessions(self) -> SessionStore:
        from shopctl.infrastructure.sessions import FileSessionStore

        return FileSessionStore(
            self.settings.config_dir / "sessions", self.settings.profile, warn=self.warn
        )

    # -- use cases ------------------------------------------------------------------------

    def register_user(self) -> RegisterUser:
        from shopctl.application.users import RegisterUser

        return RegisterUser(self.uow, self.password_hasher)

    def create_admin(self) -> CreateAdmin:
        from shopctl.application.users import CreateAdmin

        return CreateAdmin(self.uow, self.password_hasher, self.clock)

    def log_in(self) -> LogIn:
        from shopctl.application.sessions import LogIn

        return LogIn(self.uow, self.password_hasher, self.tokens, self.clock, self.sessions)

    def log_out(self) -> LogOut:
        from shopctl.application.sessions import LogOut

        return LogOut(self.uow, self.tokens, self.clock, self.sessions)

    def refresh_session(self) -> RefreshSession:
        from shopctl.application.sessions import RefreshSession

        return RefreshSession(self.uow, self.tokens, self.clock)

    def authenticate(self) -> Authenticate:
        from shopctl.application.sessions import Authenticate

        return Authenticate(self.tokens, self.clock, self.sessions, self.refresh_session())

    def who_am_i(self) -> WhoAmI:
        from shopctl.application.users import WhoAmI

        return WhoAmI(self.uow)

    def list_users(self) -> ListUsers:
        from shopctl.application.users import ListUsers

        return ListUsers(self.uow)

    def set_user_role(self) -> SetUserRole:
        from shopctl.application.users import SetUserRole

        return SetUserRole(self.uow)

    def deactivate_user(self) -> DeactivateUser:
        from shopctl.application.users import DeactivateUser

        return DeactivateUser(self.uow, self.clock)

    def list_products(self) -> ListProducts:
        from shopctl.application.products import ListProducts

        return ListProducts(self.reader, self.settings.currency)

    def get_product(self) -> GetProduct:
        from shopctl.application.products import GetProduct

        return GetProduct(self.reader, self.settings.currency)

    def create_product(self) -> CreateProduct:
        from shopctl.application.products import CreateProduct

        return CreateProduct(self.uow, self.settings.currency)

    def update_product(self) -> UpdateProduct:
        from shopctl.application.products import UpdateProduct

        return UpdateProduct(self.uow, self.settings.currency)

    def delete_product(self) -> DeleteProduct:
        from shopctl.application.products import DeleteProduct

        return DeleteProduct(self.uow)

    def change_stock(self) -> ChangeStock:
        from shopctl.application.products import ChangeStock

        return ChangeStock(self.uow, self.settings.currency)

    def import_catalog(self) -> ImportCatalog:
        from shopctl.application.catalog import ImportCatalog
        from shopctl.infrastructure.read_ahead import in_background

        return ImportCatalog(self.import_uow, read_ahead=in_background)

    def export_catalog(self) -> ExportCatalog:
        from shopctl.application.catalog import ExportCatalog

        return ExportCatalog(self.read_uow)

    def run_audit(self) -> RunAudit:
        from shopctl.application.audit import RunAudit
        from shopctl.infrastructure.db.invariants import PostgresInvariantAuditor

        return RunAudit(PostgresInvariantAuditor(self.database), self.read_uow)

    # -- reports (reads: no lock, nothing written) ------------------------------------------

    @cached_property
    def sales_ledger(self) -> SalesLedger:
        from shopctl.infrastructure.db.reports import PostgresSalesLedger

        return PostgresSalesLedger(self.database)

    def _today(self) -> date:
        from datetime import UTC

        return self.clock.now().astimezone(UTC).date()

    def sales_report(self) -> SalesReport:
        from shopctl.application.reports import SalesReport

        return SalesReport(self.sales_ledger, self.read_uow, self._today)

    def top_products(self) -> TopProducts:
        from shopctl.application.reports import TopProducts

        return TopProducts(self.sales_ledger, self.read_uow, self._today)

    def export_orders(self) -> ExportOrders:
        from shopctl.application.reports import ExportOrders

        return ExportOrders(self.sales_ledger, self.read_uow)

    def low_stock(self) -> LowStock:
        from shopctl.application.reports import LowStock

        return LowStock(self.sales_ledger, self.read_uow, self._today)

    # -- purchase flow --------------------------------------------------------------------

    @cached_property
    def payment_gateway(self) -> PaymentGateway:
        from shopctl.infrastructure.payments.mock import MockPaymentGateway

        return MockPaymentGateway(self.database)

    def show_cart(self) -> ShowCart:
        from shopctl.application.carts import ShowCart

        return ShowCart(self.read_uow, self.settings.currency)

    def add_to_cart(self) -> AddToCart:
        from shopctl.application.carts import AddToCart

        return AddToCart(self.uow, self.settings.currency)

    def set_cart_quantity(self) -> SetCartQuantity:
        from shopctl.application.carts import SetCartQuantity

        return SetCartQuantity(self.uow, self.settings.currency)

    def remove_from_cart(self) -> RemoveFromCart:
        from shopctl.application.carts import RemoveFromCart

        return RemoveFromCart(self.uow, self.settings.currency)

    def clear_cart(self) -> ClearCart:
        from shopctl.application.carts import ClearCart

        return ClearCart(self.uow, self.settings.currency)

    def place_order(self) -> PlaceOrder:
        from shopctl.application.orders import PlaceOrder

        return PlaceOrder(
            self.uow, self.clock, self.settings.reservation_ttl, self.settings.currency
        )

    def list_orders(self) -> ListOrders:
        from shopctl.application.orders import ListOrders

        return ListOrders(self.read_uow)

    def get_order(self) -> GetOrder:
        from shopctl.application.orders import GetOrder

        return GetOrder(self.read_uow)

    def cancel_order(self) -> CancelOrder:
        from shopctl.application.orders import CancelOrder

        return CancelOrder(self.uow, self.clock, self.payment_gateway)

    def fulfill_order(self) -> FulfillOrder:
        from shopctl.application.orders import FulfillOrder

        return FulfillOrder(self.uow)

    def pay_order(self) -> PayOrder:
        from shopctl.application.payments import PayOrder

        return PayOrder(self.uow, self.clock, self.payment_gateway)

    def list_payments(self) -> ListPayments:
        from shopctl.application.payments import ListPayments

        return ListPayments(self.read_uow)

    def list_reservations(self) -> ListReservations:
        from shopctl.application.orders import ListReservations

        return ListReservations(self.read_uow)

    def release_expired_reservations(self) -> ReleaseExpiredReservations:
        from shopctl.application.orders import ReleaseExpiredReservations

        return ReleaseExpiredReservations(self.uow, self.clock)
