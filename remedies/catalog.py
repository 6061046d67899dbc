"""Remediation recipes as data: the schema, the loader and failure matching.

One TOML file per recipe lives in ``remedies/recipes/`` (``H13_app_unhealthy.toml``);
named SQL statements live in ``remedies/sql_library.toml``. Both are validated
with pydantic when loaded, and every problem is raised as :class:`RecipeError`
with a one-line message naming the file, the key and what is allowed.

Node-id globs know only two wildcards, ``*`` (any text, ``/`` included) and
``?`` (one character); ``[`` and ``]`` are literal because node ids carry
parameters such as ``[invoices]``. Text fields and explain globs may use the
failed test's parameters (``{entity}``, ``{nodeid}``, ``{kind}``, ...); a
placeholder without a value stays as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from fixtures.file_errors import StrictModel as _Model
from fixtures.file_errors import describe_validation_error, display, read_toml, require_unique
from fixtures.kinds import Kind

REMEDIES_DIR = Path(__file__).resolve().parent
RECIPES_DIR = REMEDIES_DIR / "recipes"
SQL_LIBRARY_PATH = REMEDIES_DIR / "sql_library.toml"
DEPENDENCIES_PATH = REMEDIES_DIR / "dependencies.toml"

Severity = Literal["info", "warning", "error", "critical"]
Risk = Literal["safe", "guarded", "destructive"]
ACTIONS = ("sql", "http", "service", "command", "manual")

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
_GLOB_PREFIX = "suites/"


class RecipeError(Exception):
    """A recipe or SQL library file that cannot be used; the message is one line."""


# --- placeholders and globs -------------------------------------------------------------


def render(text: str, params: Mapping[str, object]) -> str:
    """Fill ``{name}`` placeholders from ``params``; unknown ones stay as written."""
    return _PLACEHOLDER.sub(lambda m: str(params[m[1]]) if m[1] in params else m[0], text)


def unfilled_placeholders(value: object) -> set[str]:
    """The ``{name}`` placeholders left in a string, or in the strings of a dict or list."""
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return set().union(*(unfilled_placeholders(item) for item in value))
    return set()


def glob_regex(glob: str, params: Mapping[str, object] | None = None) -> re.Pattern[str]:
    """Compile a node-id glob; ``{name}`` placeholders found in ``params`` match literally."""
    wildcards = {"*": ".*", "?": "."}
    pattern = ""
    for part in re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\}|\*|\?)", glob):
        pattern += wildcards.get(part) or re.escape(render(part, params or {}))
    return re.compile(pattern, re.DOTALL)


def literal_length(glob: str) -> int:
    """How many characters of the glob are literal text (its specificity)."""
    return len(glob) - glob.count("*") - glob.count("?")


def _check_glob(glob: str) -> str:
    if not glob:
        raise ValueError(f"an empty glob is not allowed (a glob starts with {_GLOB_PREFIX!r})")
    if not glob.startswith(_GLOB_PREFIX):
        raise ValueError(f"{glob!r} must start with {_GLOB_PREFIX!r}")
    depth = 0
    for char in glob:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ValueError(f"{glob!r} has unbalanced brackets ([ and ] are literal and must pair)")
    return glob


Glob = Annotated[str, AfterValidator(_check_glob)]


# --- the SQL library --------------------------------------------------------------------


class SqlStatement(_Model):
    """A named, reviewed SQL statement with ``%(param)s`` placeholders only.

    Read-only statements run in a read-only transaction. Mutating statements
    run in a transaction that is rolled back when more than ``max_rows`` rows
    (or the target's ``healing.max_rows``, if lower) would change.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    read_only: bool
    params: tuple[str, ...] = ()
    max_rows: Annotated[int, Field(ge=1)] | None = Field(default=None, validate_default=True)
    sql: str = Field(min_length=1)

    @field_validator("max_rows")
    @classmethod
    def _bound_for_mutating_only(cls, max_rows: int | None, info: ValidationInfo) -> int | None:
        read_only = info.data.get("read_only")
        if read_only is False and max_rows is None:
            raise ValueError("required for a mutating statement (allowed: an integer >= 1)")
        if read_only and max_rows is not None:
            raise ValueError("not allowed for a read-only statement (only mutating statements change rows)")
        return max_rows

    @field_validator("sql")
    @classmethod
    def _placeholders_match_params(cls, sql: str, info: ValidationInfo) -> str:
        if "%" in re.sub(r"%\([A-Za-z_][A-Za-z0-9_]*\)s|%%", "", sql):
            raise ValueError("only %(name)s placeholders are allowed (write a literal % as %%)")
        used = sorted(set(re.findall(r"%\(([A-Za-z_][A-Za-z0-9_]*)\)s", sql)))
        declared = sorted(info.data.get("params", ()))
        if used != declared:
            raise ValueError(
                f"placeholders must match params (sql uses: {', '.join(used) or 'none'}; "
                f"params: {', '.join(declared) or 'none'})"
            )
        return sql


class _SqlLibraryFile(_Model):
    statements: list[SqlStatement] = Field(min_length=1)

    @field_validator("statements")
    @classmethod
    def _unique_names(cls, statements: list[SqlStatement]) -> list[SqlStatement]:
        require_unique([statement.name for statement in statements], "statement names")
        return statements


def load_sql_library(path: Path = SQL_LIBRARY_PATH) -> dict[str, SqlStatement]:
    """Read and validate the named SQL statements, keyed by name."""
    try:
        library = _SqlLibraryFile.model_validate(read_toml(path, RecipeError, Path.cwd()))
    except ValidationError as error:
        raise RecipeError(_describe_validation_error(path, error, _SqlLibraryFile)) from None
    return {statement.name: statement for statement in library.statements}


# --- steps ------------------------------------------------------------------------------


class _Step(_Model):
    risk: Risk

    def rendered(self, params: Mapping[str, object]) -> Self:
        """This step with the failed test's parameters filled into its text fields."""
        return self.model_copy(
            update={name: _render_value(getattr(self, name), params) for name in type(self).model_fields}
        )


class SqlStep(_Step):
    """Run a named statement of the SQL library with the given parameters."""

    action: Literal["sql"]
    statement: str
    params: dict[str, str | int | float | bool] = Field(default_factory=dict, validate_default=True)
    _sql: SqlStatement = PrivateAttr()

    @field_validator("statement")
    @classmethod
    def _known_statement(cls, name: str, info: ValidationInfo) -> str:
        library = _sql_library(info)
        if name not in library:
            raise ValueError(f"{name!r} is not in the SQL library (allowed: {', '.join(sorted(library))})")
        return name

    @field_validator("params")
    @classmethod
    def _params_of_statement(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "statement" not in info.data:
            return params
        statement = _sql_library(info)[info.data["statement"]]
        unknown = sorted(set(params) - set(statement.params))
        missing = sorted(set(statement.params) - set(params))
        allowed = ", ".join(statement.params) or "none"
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a parameter of {statement.name} (allowed: {allowed})")
        if missing:
            raise ValueError(f"{statement.name} needs {', '.join(missing)} (allowed: {allowed})")
        return params

    @model_validator(mode="after")
    def _keep_statement(self, info: ValidationInfo) -> Self:
        self._sql = _sql_library(info)[self.statement]
        return self

    @property
    def sql(self) -> SqlStatement:
        """The library statement this step runs."""
        return self._sql


def _sql_library(info: ValidationInfo) -> Mapping[str, SqlStatement]:
    return (info.context or {})["sql_library"]


class HttpStep(_Step):
    """Send one request to the target's ``http.base_url``."""

    action: Literal["http"]
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    body: dict[str, Any] | None = Field(default=None, alias="json")

    @field_validator("path")
    @classmethod
    def _path_on_target(cls, path: str) -> str:
        if not path.startswith("/") or path.startswith("//"):
            raise ValueError(f"{path!r} is not allowed (allowed: a path on the target, starting with one '/')")
        return path

    @property
    def is_read_only(self) -> bool:
        return self.method in ("GET", "HEAD")


class ServiceStep(_Step):
    """Start, restart or stop a service through the target's binding for it."""

    action: Literal["service"]
    # A service name, or {service_binding}: the binding the failed host service check names.
    service: str = Field(pattern=r"^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*|\{service_binding\})$")
    operation: Literal["start", "restart", "stop"]
    # An evidence key counting the service's recent work: when the failure's evidence shows it
    # above 0, the service demonstrably runs, and starting or restarting it cannot help.
    unless_active: str | None = Field(None, pattern=_NAME)


class CommandStep(_Step):
    """Run a command template declared in the target inventory."""

    action: Literal["command"]
    command: str = Field(pattern=_NAME)
    args: dict[str, str] = Field(default_factory=dict)


class ManualStep(_Step):
    """Instructions for a human; never run."""

    action: Literal["manual"]
    text: str = Field(min_length=1)


Step = Annotated[SqlStep | HttpStep | ServiceStep | CommandStep | ManualStep, Field(discriminator="action")]
_STEP_MODELS: dict[str, type[_Step]] = {
    "sql": SqlStep,
    "http": HttpStep,
    "service": ServiceStep,
    "command": CommandStep,
    "manual": ManualStep,
}


def is_diagnostic(step: _Step) -> bool:
    """A step that only reads: its failure is recorded and the recipe goes on."""
    return (isinstance(step, SqlStep) and step.sql.read_only) or (isinstance(step, HttpStep) and step.is_read_only)


def _render_value(value: Any, params: Mapping[str, object]) -> Any:
    if isinstance(value, str):
        return render(value, params)
    if isinstance(value, dict):
        return {key: _render_value(item, params) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_value(item, params) for item in value]
    return value


# --- recipes ----------------------------------------------------------------------------


class MatchRule(_Model):
    """Which failures a recipe handles: node-id globs and, optionally, failure kinds."""

    nodeids: list[Glob] = Field(min_length=1)
    kinds: list[Kind] = Field(default_factory=list)


class ExplainsRule(_Model):
    """Other failures of the same run that a failure handled by this recipe explains."""

    nodeids: list[Glob] = Field(default_factory=list)
    kinds: list[Kind] = Field(default_factory=list)


class Recipe(_Model):
    """One remediation recipe: what a failure means, why, and the ordered fix steps."""

    id: str
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    severity: Severity
    diagnosis: str = Field(min_length=1)
    likely_causes: list[str] = Field(min_length=1)
    verification: str = Field(min_length=1)
    match: MatchRule
    explains: ExplainsRule = ExplainsRule()
    steps: list[Step] = Field(min_length=1)

    render = staticmethod(render)

    @field_validator("id")
    @classmethod
    def _recipe_id(cls, value: str) -> str:
        if not re.fullmatch(r"H[0-9]{2}", value):
            raise ValueError(f"{value!r} is not a recipe id (allowed: H and two digits, e.g. H13)")
        return value

    def specificity(self, nodeid: str, kind: str | None) -> tuple[int, int] | None:
        """How specifically this recipe matches a failure (higher is better), or None."""
        if self.match.kinds and kind not in self.match.kinds:
            return None
        lengths = [literal_length(glob) for glob in self.match.nodeids if glob_regex(glob).fullmatch(nodeid)]
        if not lengths:
            return None
        return (1 if self.match.kinds else 0, max(lengths))

    def explains_failure(
        self, root_nodeid: str, root_params: Mapping[str, object], other_nodeid: str, other_kind: str | None
    ) -> bool:
        """Whether a failure of ``root_nodeid`` (handled by this recipe) explains another failure."""
        if other_nodeid == root_nodeid:
            return False
        if self.explains.kinds and other_kind not in self.explains.kinds:
            return False
        return any(glob_regex(glob, root_params).fullmatch(other_nodeid) for glob in self.explains.nodeids)


class Dependency(_Model):
    """A check that others depend on: when ``upstream`` fails, it explains the ``downstream`` failures.

    ``downstream`` globs may use the upstream failure's context (``{entity}``,
    ``{tds_entity}``…); ``kinds`` limits which downstream failures it explains.
    """

    upstream: Glob
    downstream: list[Glob] = Field(min_length=1)
    kinds: list[Kind] = Field(default_factory=list)
    why: str = Field(min_length=1)

    def explains(self, upstream_nodeid: str, context: Mapping[str, object], other_nodeid: str, other_kind: str) -> bool:
        if other_nodeid == upstream_nodeid or not glob_regex(self.upstream).fullmatch(upstream_nodeid):
            return False
        if self.kinds and other_kind not in self.kinds:
            return False
        return any(glob_regex(glob, context).fullmatch(other_nodeid) for glob in self.downstream)


class _DependencyFile(_Model):
    depends: list[Dependency] = Field(min_length=1)


def load_dependencies(path: Path = DEPENDENCIES_PATH) -> tuple[Dependency, ...]:
    """Read and validate the dependency table between checks."""
    try:
        table = _DependencyFile.model_validate(read_toml(path, RecipeError, Path.cwd()))
    except ValidationError as error:
        raise RecipeError(_describe_validation_error(path, error, _DependencyFile)) from None
    return tuple(table.depends)


@dataclass(frozen=True)
class Catalog:
    """All recipes, in id order, and the dependency table between checks."""

    recipes: tuple[Recipe, ...]
    dependencies: tuple[Dependency, ...] = ()

    def __iter__(self) -> Iterator[Recipe]:
        return iter(self.recipes)

    def ids(self) -> list[str]:
        """Every recipe id, in order."""
        return [recipe.id for recipe in self.recipes]

    def get(self, recipe_id: str) -> Recipe | None:
        """The recipe with this id, or None."""
        return next((recipe for recipe in self.recipes if recipe.id == recipe_id), None)

    def match(self, nodeid: str, kind: str | None) -> Recipe | None:
        """The most specific recipe for a failure, or None.

        A recipe naming the failure's kind beats one that takes any kind; then the
        glob with the most literal text wins; then the lower recipe id.
        """
        ranked = [(rank, recipe) for recipe in self.recipes if (rank := recipe.specificity(nodeid, kind)) is not None]
        if not ranked:
            return None
        return min(ranked, key=lambda item: (-item[0][0], -item[0][1], item[1].id))[1]


def load_catalog(
    directory: Path = RECIPES_DIR, sql_library: Path = SQL_LIBRARY_PATH, dependencies: Path = DEPENDENCIES_PATH
) -> Catalog:
    """Read and validate every ``*.toml`` recipe in ``directory``, and the dependency table."""
    statements = load_sql_library(sql_library)
    table = load_dependencies(dependencies)
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise RecipeError(f"{display(directory, Path.cwd())}: no recipe files (*.toml)")
    recipes: dict[str, tuple[Recipe, Path]] = {}
    for path in files:
        recipe = _load_recipe(path, statements)
        for field in ("id", "key"):
            value = getattr(recipe, field)
            other = next((p for r, p in recipes.values() if getattr(r, field) == value), None)
            if other is not None:
                raise RecipeError(
                    f"{display(path, Path.cwd())}: {field}: {value!r} is already used by {other.name} (must be unique)"
                )
        recipes[recipe.id] = (recipe, path)
    return Catalog(tuple(recipe for _, (recipe, _) in sorted(recipes.items())), table)


def _load_recipe(path: Path, statements: Mapping[str, SqlStatement]) -> Recipe:
    try:
        recipe = Recipe.model_validate(read_toml(path, RecipeError, Path.cwd()), context={"sql_library": statements})
    except ValidationError as error:
        raise RecipeError(_describe_validation_error(path, error, Recipe)) from None
    expected = f"{recipe.id}_{recipe.key}.toml"
    if path.name != expected:
        raise RecipeError(f"{display(path, Path.cwd())}: file name: must be {expected} (id and key)")
    return recipe


# --- error messages ---------------------------------------------------------------------


def _describe_validation_error(path: Path, error: ValidationError, root: type[BaseModel]) -> str:
    return describe_validation_error(
        path,
        error,
        base=Path.cwd(),
        allowed_keys=lambda location: _allowed_keys(root, location),
        special=_step_tags,
        shown=_without_step_tags,
    )


def _step_tags(first: dict[str, Any]) -> tuple[tuple, str] | None:
    """Recipe steps are a union tagged by ``action``: name the tag, not pydantic's union path."""
    location = _without_step_tags(tuple(first["loc"]))
    if first["type"] == "union_tag_invalid":
        return (*location, "action"), f"{first['ctx']['tag']!r} is not allowed (allowed: {', '.join(ACTIONS)})"
    if first["type"] == "union_tag_not_found":
        return (*location, "action"), f"required key is missing (allowed: {', '.join(ACTIONS)})"
    return None


def _without_step_tags(location: tuple) -> tuple:
    """Drop the union tag pydantic puts after a step's index (``steps, 0, 'sql', ...``)."""
    if len(location) > 2 and location[0] == "steps" and location[2] in ACTIONS:
        return location[:2] + location[3:]
    return location


def _allowed_keys(root: type[BaseModel], location: tuple) -> list[str]:
    """The keys the model at ``location`` accepts (list indexes skipped)."""
    model: type[BaseModel] = root
    parts = [part for part in location if not isinstance(part, int)]
    if parts[:1] == ["steps"] and len(parts) > 1:
        model, parts = _STEP_MODELS[parts[1]], parts[2:]
    for part in parts:
        annotation = model.model_fields[part].annotation
        model = next(arg for arg in (annotation, *getattr(annotation, "__args__", ())) if _is_model(arg))
    return sorted(field.alias or name for name, field in model.model_fields.items())


def _is_model(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)
