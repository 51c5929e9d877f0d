"""e2e: products import / export — abort, skip, dry run, stdin, formats, errors file,
round trip, input hygiene, and crash safety."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.database import inspection_engine
from tests.e2e.conftest import Shopctl, clean_environ, run_at_a_terminal, run_in_fresh_process

HEADER = "sku,name,price,description,stock,active\n"


def catalog_csv(count: int, *, bad: dict[int, str] | None = None) -> str:
    """``count`` products; ``bad`` maps a 0-based row index to a replacement line."""
    lines = [HEADER]
    for i in range(count):
        line = f'SKU-{i:05d},"Item {i}, boxed",{i % 50}.{i % 100:02d},"Says ""hi""",{i % 9},true\n'
        lines.append((bad or {}).get(i, line))
    return "".join(lines)


def all_products(shopctl: Shopctl) -> list[dict[str, Any]]:
    listed = shopctl("products", "list", "--include-inactive", "--limit", "10000", "--json")
    assert listed.exit_code == 0, listed
    return list(listed.json())


BAD_ROWS = {
    100: 'SKU-00100,"Item 100",1.999,,1,true\n',  # three decimal places
    2500: "SKU-02500,,-3,,1,true\n",  # no name for a new SKU, negative price
    4999: "SKU-00007,Again,1.00,,1,true\n",  # duplicate of row 7 (line 9)
}


def test_5000_rows_with_3_bad_ones_abort_then_skip(
    shopctl: Shopctl, admin: str, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(catalog_csv(5000, bad=BAD_ROWS))
    aborted = shopctl("products", "import", str(path), "--json", profile=admin)
    assert aborted.exit_code == 2, aborted
    report = aborted.json()
    assert [e["line"] for e in report["errors"]] == [102, 2502, 5001]
    assert report["errors"][2]["message"] == "duplicate SKU 'SKU-00007', first on line 9"
    assert (report["failed"], report["created"], report["applied"]) == (3, 0, False)
    assert "nothing was applied" in aborted.stderr
    assert all_products(shopctl) == []

    skipped = shopctl("products", "import", str(path), "--on-error", "skip", "--json",
                      profile=admin)  # fmt: skip
    assert skipped.exit_code == 2, skipped
    assert (skipped.json()["created"], skipped.json()["failed"]) == (4997, 3)
    assert len(all_products(shopctl)) == 4997
    assert shopctl("audit", profile=admin).exit_code == 0

    clean = tmp_path / "clean.csv"
    clean.write_text(catalog_csv(5000))
    fixed = shopctl("products", "import", str(clean), "--json", profile=admin)
    assert fixed.exit_code == 0, fixed
    assert (fixed.json()["created"], fixed.json()["unchanged"]) == (3, 4997)
    again = shopctl("products", "import", str(clean), "--json", profile=admin)
    assert again.exit_code == 0
    assert {k: again.json()[k] for k in ("created", "updated", "unchanged", "failed")} == {
        "created": 0, "updated": 0, "unchanged": 5000, "failed": 0,
    }  # fmt: skip


def test_table_report_and_summary(shopctl: Shopctl, admin: str, tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(catalog_csv(3))
    result = shopctl("products", "import", str(path), profile=admin)
    assert result.exit_code == 0, result
    assert "created" in result.stdout and "3" in result.stdout
    assert "imported: 3 created, 0 updated, 0 unchanged" in result.stderr
    quiet = shopctl("products", "import", str(path), "--quiet", profile=admin)
    assert quiet.exit_code == 0 and quiet.stderr == ""
    # no progress bar when stderr is not a terminal
    assert "\x1b" not in result.stderr and "importing" not in result.stderr


def test_dry_run_validates_against_the_database_and_writes_nothing(
    shopctl: Shopctl, admin: str, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(catalog_csv(10))
    result = shopctl("products", "import", str(path), "--dry-run", "--json", profile=admin)
    assert result.exit_code == 0, result
    assert (result.json()["created"], result.json()["dry_run"]) == (10, True)
    assert all_products(shopctl) == []
    # a rule that needs the stored product: stock below reserved is found in a dry run too
    updates = tmp_path / "updates.csv"
    updates.write_text("sku,stock\nNEW-1,3\n")
    failed = shopctl("products", "import", str(updates), "--dry-run", "--json", profile=admin)
    assert failed.exit_code == 2
    assert failed.json()["errors"][0]["message"] == "a new SKU needs name and price"


def test_stdin_typed_at_a_terminal_gets_a_hint_and_ends_with_ctrl_d(
    shopctl: Shopctl, admin: str, db_url: str, config_dir: Path
) -> None:
    env = clean_environ(SHOPCTL_DATABASE_URL=db_url, SHOPCTL_CONFIG_DIR=str(config_dir))
    typed = b"sku,name,price\nTYPED-1,Typed mug,3.50\n\x04"
    code, shown = run_at_a_terminal(env, ["-p", admin, "products", "import", "-"], typed)
    assert code == 0, shown
    assert b"reading the catalog (csv) from standard input; end with Ctrl-D" in shown
    assert b"importing" not in shown  # no progress bar drawn over what is being typed
    assert [p["sku"] for p in all_products(shopctl)] == ["TYPED-1"]


def test_stdin_and_jsonl_and_json(shopctl: Shopctl, admin: str, tmp_path: Path) -> None:
    piped = shopctl("products", "import", "-", "--json", profile=admin,
                    input="sku,name,price\r\nA-1,Apron,1.50\r\n\r\n")  # fmt: skip
    assert piped.exit_code == 0, piped
    assert piped.json()["created"] == 1
    lines = tmp_path / "more.jsonl"
    lines.write_text('{"sku": "B-1", "name": "Bag", "price": 2.5, "stock": 3}\n'
                     '{"sku": "A-1", "active": false}\n')  # fmt: skip
    result = shopctl("products", "import", str(lines), "--json", profile=admin)
    assert result.exit_code == 0, result
    assert (result.json()["created"], result.json()["updated"]) == (1, 1)
    array = tmp_path / "more.data"
    array.write_text('[{"sku": "C-1", "name": "Cap", "price": "4"}]')
    assert shopctl("products", "import", str(array), profile=admin).exit_code == 2  # no ext
    result = shopctl("products", "import", str(array), "--input-format", "json", "--json",
                     profile=admin)  # fmt: skip
    assert result.json()["created"] == 1
    got = {p["sku"]: p for p in all_products(shopctl)}
    assert (got["A-1"]["active"], got["B-1"]["price"], got["B-1"]["stock_on_hand"]) == (
        False, "2.50", 3,
    )  # fmt: skip


def test_errors_file_is_ready_to_fix_and_reimport(
    shopctl: Shopctl, admin: str, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text("name,sku,price\nApron,A-1,1\nBag,B-1,x\nCap,C 1,2\n")
    errors = tmp_path / "errors.csv"
    result = shopctl("products", "import", str(path), "--on-error", "skip",
                     "--errors-file", str(errors), profile=admin)  # fmt: skip
    assert result.exit_code == 2, result
    rows = list(csv.DictReader(io.StringIO(errors.read_text())))
    assert [r["sku"] for r in rows] == ["B-1", "C 1"]
    assert list(rows[0]) == ["name", "sku", "price", "error"]
    assert rows[0]["error"] == "line 3: price 'x' is not a number"
    fixed = tmp_path / "fixed.csv"
    fixed.write_text("name,sku,price\nBag,B-1,3\nCap,C-1,2\n")
    assert shopctl("products", "import", str(fixed), profile=admin).exit_code == 0
    assert len(all_products(shopctl)) == 3


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json"])
def test_export_reimports_as_all_unchanged(
    shopctl: Shopctl, admin: str, tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text(catalog_csv(300) + 'ODD-1,"Odd, ""quoted""",0.00,"two\nlines",0,false\n')
    assert shopctl("products", "import", str(path), profile=admin).exit_code == 0
    out = tmp_path / f"export.{fmt}"
    exported = shopctl("products", "export", "--output-format", fmt, "--output-file", str(out),
                       profile=admin)  # fmt: skip
    assert exported.exit_code == 0, exported
    assert "exported 301 product(s)" in exported.stderr
    again = shopctl("products", "import", str(out), "--json", profile=admin)
    assert again.exit_code == 0, again
    assert (again.json()["unchanged"], again.json()["created"], again.json()["updated"]) == (
        301, 0, 0,
    )  # fmt: skip


def test_export_to_stdout(shopctl: Shopctl, admin: str) -> None:
    shopctl("products", "import", "-", input="sku,name,price,stock\nA-1,Apron,1.5,2\n",
            profile=admin)  # fmt: skip
    result = shopctl("products", "export", profile=admin)
    assert result.exit_code == 0, result
    assert result.stdout == "sku,name,price,description,stock,active\nA-1,Apron,1.50,,2,true\n"
    lines = shopctl("products", "export", "--output-format", "jsonl", profile=admin)
    assert json.loads(lines.stdout) == {"sku": "A-1", "name": "Apron", "price": "1.50",
                                        "description": "", "stock": 2, "active": True}  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"sku,name,colour\nA,x,red\n", "unknown column(s): colour"),
        (b"\xef\xbb\xbfsku,name,price\nA,caf\xe9,1\n", "line 2 is not valid UTF-8"),
        (b"", "the file is empty"),
    ],
)
def test_bad_files_are_exit_2_with_a_clear_message(
    shopctl: Shopctl, admin: str, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = shopctl("products", "import", str(path), profile=admin)
    assert result.exit_code == 2, result
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_exit_2(shopctl: Shopctl, admin: str, tmp_path: Path) -> None:
    result = shopctl("products", "import", str(tmp_path / "nope.csv"), profile=admin)
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_killing_an_abort_mode_import_leaves_the_catalog_as_it_was(
    shopctl: Shopctl, admin: str, db_url: str, config_dir: Path
) -> None:
    assert shopctl("products", "create", "--sku", "SKU-00000", "--name", "Kept", "--price",
                   "1.00", "--stock", "4", profile=admin).exit_code == 0  # fmt: skip
    before = all_products(shopctl)
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("SHOPCTL_")}
    env.update(SHOPCTL_DATABASE_URL=db_url, SHOPCTL_CONFIG_DIR=str(config_dir),
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "shopctl", "-p", admin, "products", "import", "-", "--quiet"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    assert process.stdin is not None
    # Feed a few batches (the first row changes the existing product), keep the pipe open.
    process.stdin.write(catalog_csv(30_000).encode())
    process.stdin.flush()
    engine = inspection_engine(db_url)
    written = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE a.application_name = 'shopctl products import' AND a.datname = current_database() "
        "AND l.relation = 'products'::regclass AND l.mode = 'RowExclusiveLock'"
    )
    deadline = time.monotonic() + 60
    with engine.connect() as connection:
        while connection.execute(written).scalar() == 0:
            assert time.monotonic() < deadline, "the import never wrote"
            assert process.poll() is None
            time.sleep(0.05)
            connection.rollback()
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdin.close()
    idle = text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'shopctl products import' "
        "AND datname = current_database() AND pid <> pg_backend_pid()"
    )
    with engine.connect() as connection:
        while connection.execute(idle).scalar():  # the server notices and rolls back
            assert time.monotonic() < deadline
            time.sleep(0.05)
            connection.rollback()
    engine.dispose()
    assert all_products(shopctl) == before
    assert shopctl("audit", profile=admin).exit_code == 0


def test_the_import_and_its_session_check_load_no_sqlalchemy(
    db_url: str, config_dir: Path, admin: str, tmp_path: Path
) -> None:
    # The import's start-up is part of its time against psql: the session check
    # reads through psycopg and the import runs on a psycopg unit of work of its own.
    path = tmp_path / "catalog.csv"
    path.write_text(catalog_csv(3))
    env = clean_environ(SHOPCTL_DATABASE_URL=db_url, SHOPCTL_CONFIG_DIR=str(config_dir))
    importing = ["--profile", admin, "products", "import", str(path), "--json"]
    codes, heavy, stdout = run_in_fresh_process(env, importing)
    assert (codes, heavy) == ([0], [])
    assert json.loads(stdout)["created"] == 3


HOSTILE = [
    *(chr(c) for c in range(1, 0x20)),  # C0 but NUL
    "\x7f",
    *(chr(c) for c in range(0x80, 0xA0)),  # C1
    "\u061c", "\u200e", "\u200f", *(chr(c) for c in range(0x202A, 0x202F)),
    *(chr(c) for c in range(0x2066, 0x206A)),  # bidirectional overrides and isolates
]  # fmt: skip
RAW_CONTROL = "".join(c for c in HOSTILE if c not in "\n\t")


def test_hostile_text_imports_except_nul_exports_faithfully_and_never_reaches_the_terminal(
    shopctl: Shopctl, admin: str, tmp_path: Path, db_url: str, config_dir: Path
) -> None:
    rows = [
        {"sku": f"H-{n:03d}", "name": f"name {char} end", "price": "1.00", "description": char}
        for n, char in enumerate(HOSTILE)
    ]
    rows.insert(10, {"sku": "NUL-NAME", "name": "a\x00b", "price": "1.00"})
    rows.insert(20, {"sku": "NUL-DESC", "name": "ok", "price": "1.00", "description": "\x00"})
    rows.insert(30, {"sku": "SURROGATE", "name": "broken \ud800 text", "price": "1.00"})
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))  # \u escapes: exact

    result = shopctl("products", "import", str(path), "--on-error", "skip", "--json", profile=admin)
    assert result.exit_code == 2, result
    report = result.json()
    assert report["created"] == len(HOSTILE) and report["failed"] == 3
    assert {(e["sku"], e["line"]) for e in report["errors"]} == {
        ("NUL-NAME", 11), ("NUL-DESC", 21), ("SURROGATE", 31)
    }  # fmt: skip
    assert any("NUL" in e["message"] for e in report["errors"])
    assert not any(c in result.stderr for c in RAW_CONTROL)

    stored = {row["sku"]: row for row in rows if row["sku"].startswith("H-")}
    exported = shopctl("products", "export", "--output-format", "jsonl", profile=admin)
    assert exported.exit_code == 0
    lines = exported.stdout.split("\n")  # JSON Lines end at \n (U+0085 is text)
    back = {r["sku"]: r for r in map(json.loads, filter(None, lines))}
    assert {sku: (r["name"], r["description"]) for sku, r in back.items()} == {
        sku: (r["name"], r["description"]) for sku, r in stored.items()
    }
    listed = shopctl("products", "list", "--limit", "500", "--json").json()
    assert {p["sku"]: p["name"] for p in listed} == {s: r["name"] for s, r in stored.items()}
    # CSV as bytes: the test runner's text mode would turn a stored \r into \n
    env = clean_environ(SHOPCTL_DATABASE_URL=db_url, SHOPCTL_CONFIG_DIR=str(config_dir))
    as_csv = subprocess.run(
        [sys.executable, "-m", "shopctl", "products", "list", "--limit", "500", "--format", "csv"],
        capture_output=True, env=env, check=True,
    ).stdout.decode("utf-8")  # fmt: skip
    parsed = {r["sku"]: r["name"] for r in csv.DictReader(io.StringIO(as_csv, newline=""))}
    assert parsed == {s: r["name"] for s, r in stored.items()}

    table = shopctl("products", "list", "--limit", "500", COLUMNS="200")
    assert table.exit_code == 0
    assert not any(c in table.stdout for c in RAW_CONTROL), "a raw control character"
    assert "name ^[ end" in table.stdout  # ESC, shown in caret notation
    one = shopctl("products", "get", "H-026")  # ESC is 0x1b: the 27th of HOSTILE
    assert one.exit_code == 0 and "^[" in one.stdout
    assert not any(c in one.stdout for c in RAW_CONTROL)
