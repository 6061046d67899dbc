"""The sample app's own tests: tooling, where print() is no finding."""

import pytest

from app.settings import Settings


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ValueError, match="ENVIRONMENT must be one of"):
        Settings(environment="qa", log_level="INFO")
    print("refused as expected")
