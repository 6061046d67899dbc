"""Each failure's final state in the files CI already reads: JUnit properties and Allure labels.

pytest's JUnit writer and allure-pytest write a failure as they see it, when
it happens; its root cause and heal verdict are known only at the end of the
run. Once both files are final, each failed test case gets:

- JUnit: properties ``tsh_kind``, ``tsh_recipe``, ``tsh_root_cause``,
  ``tsh_final_state`` (``failed``, ``failed, healed and verified``, ``failed, not healed: ...``);
- Allure: labels ``root_cause`` and ``final_state``, and the final state at the
  head of its status message.

The original failure is never hidden: the case stays failed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from remedies.analysis import Failure

NODEID_LABEL = "nodeid"


def final_state(failure: Failure | None) -> tuple[str, str]:
    """(text, css class) of a failed row's final state."""
    if failure is None or failure.healed is None:
        return "failed", "tsh-state-failed"
    if failure.healed and failure.heal_note == "re-run passed":
        return "failed, healed and verified", "tsh-state-healed"
    if failure.healed:
        return f"failed, healed: {failure.heal_note}", "tsh-state-healed"
    return f"failed, not healed: {failure.heal_note or 'no repairing step'}", "tsh-state-failed"


def junit_address(nodeid: str) -> tuple[str, str]:
    """(classname, name) of a node id as pytest's JUnit writer spells them."""
    path, *names = nodeid.split("::")
    module = path[:-3] if path.endswith(".py") else path
    return ".".join([module.replace("/", "."), *names[:-1]]), names[-1] if names else path


def properties_of(failure: Failure) -> dict[str, str]:
    return {
        "tsh_kind": failure.kind,
        "tsh_recipe": failure.recipe or "none",
        "tsh_root_cause": failure.root_cause or "none (this check is the root cause)",
        "tsh_final_state": final_state(failure)[0],
    }


def annotate_junit(path: Path, failures: list[Failure]) -> None:
    """Add the final-state properties to each failed test case of the JUnit file at ``path``."""
    if not failures or not path.is_file():
        return
    tree = ET.parse(path)  # noqa: S314 -- the file pytest itself just wrote
    by_address = {junit_address(failure.nodeid): failure for failure in failures}
    for case in tree.getroot().iter("testcase"):
        failure = by_address.get((case.get("classname", ""), case.get("name", "")))
        if failure is None:
            continue
        properties = case.find("properties")
        if properties is None:
            properties = ET.Element("properties")
            case.insert(0, properties)
        for name, value in properties_of(failure).items():
            ET.SubElement(properties, "property", {"name": name, "value": value})
    tree.write(path, encoding="utf-8", xml_declaration=True)


def annotate_allure(directory: Path, failures: list[Failure]) -> None:
    """Add root cause and final state to each failed result of the Allure results ``directory``."""
    if not failures or not directory.is_dir():
        return
    by_nodeid = {failure.nodeid: failure for failure in failures}
    for path in directory.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        labels = result.get("labels", [])
        nodeid = next((label["value"] for label in labels if label.get("name") == NODEID_LABEL), None)
        failure = by_nodeid.get(nodeid)
        if failure is None:
            continue
        state = final_state(failure)[0]
        labels += [{"name": "root_cause", "value": failure.root_cause or "this check"},
                   {"name": "final_state", "value": state}]  # fmt: skip
        details = result.setdefault("statusDetails", {})
        details["message"] = f"[{state}] {details.get('message', '')}"
        path.write_text(json.dumps(result), encoding="utf-8")


def annotate_junit_run(path: Path, properties: dict[str, str]) -> None:
    """Add run-level ``properties`` (``tsh_interrupted``…) to every test suite of the JUnit file at ``path``."""
    if not properties or not path.is_file():
        return
    tree = ET.parse(path)  # noqa: S314 -- the file pytest itself just wrote
    root = tree.getroot()
    for suite in [root] if root.tag == "testsuite" else root.iter("testsuite"):
        holder = suite.find("properties")
        if holder is None:
            holder = ET.Element("properties")
            suite.insert(0, holder)
        for name, value in properties.items():
            ET.SubElement(holder, "property", name=name, value=value)
    tree.write(path, encoding="utf-8", xml_declaration=True)
