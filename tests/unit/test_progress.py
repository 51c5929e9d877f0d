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
