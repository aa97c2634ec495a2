from tests.helpers import REPO
from tradebot.management.commands.settings_table import settings_table


def test_the_readme_documents_every_setting():
    readme = (REPO / "README.md").read_text()
    start = readme.index("<!-- settings:start -->") + len("<!-- settings:start -->")
    end = readme.index("<!-- settings:end -->")
    assert readme[start:end].strip() == settings_table(), "run: python manage.py settings_table, paste into README"


def test_ci_runs_exactly_the_readme_test_command():
    assert "exec make test" in (REPO / ".ci/run").read_text()
    assert "make test" in (REPO / "README.md").read_text()
