import io

from shopctl.cli.output import Output


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal() -> None:
    piped = io.StringIO()
    with Output(io.StringIO(), piped).progress("importing", 100) as advance:
        advance(50)
    assert piped.getvalue() == ""
    terminal = Terminal()
    with Output(io.StringIO(), terminal).progress("importing", 100) as advance:
        advance(100)
    assert "importing" in terminal.getvalue()
    quiet = Terminal()
    with Output(io.StringIO(), quiet, quiet=True).progress("importing", 100) as advance:
        advance(100)
    assert quiet.getvalue() == ""


def test_no_progress_bar_while_someone_types_the_input() -> None:
    terminal = Terminal()
    with Output(io.StringIO(), terminal).progress("importing", None, shown=False) as advance:
        advance(100)
    assert terminal.getvalue() == ""


def test_reading_stdin_hints_only_a_person_at_a_terminal() -> None:
    err = io.StringIO()
    assert Output(io.StringIO(), err).reading_stdin("the catalog (csv)", Terminal()) is True
    assert err.getvalue() == "reading the catalog (csv) from standard input; end with Ctrl-D\n"
    piped = io.StringIO()
    assert Output(io.StringIO(), piped).reading_stdin("the catalog (csv)", io.StringIO()) is False
    assert piped.getvalue() == ""
    quiet = io.StringIO()
    Output(io.StringIO(), quiet, quiet=True).reading_stdin("the catalog (csv)", Terminal())
    assert quiet.getvalue() == ""
