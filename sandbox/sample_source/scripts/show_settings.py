"""A developer script: prints the settings the app would start with (tooling, not application code)."""

from app.main import load_settings

if __name__ == "__main__":
    print(load_settings())
