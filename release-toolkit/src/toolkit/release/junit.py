"""JUnit XML of a stage's integration tests, for CI's test tab."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from toolkit.local_files import write_atomically


@dataclass
class TestCase:
    name: str
    classname: str
    seconds: float
    failure: str | None = None
    output: str = ""


def write_junit(path: Path, suite: str, cases: list[TestCase]) -> Path:
    root = ElementTree.Element("testsuites")
    element = ElementTree.SubElement(root, "testsuite", name=suite, tests=str(len(cases)),
                                     failures=str(sum(1 for c in cases if c.failure)), errors="0",
                                     time=f"{sum(c.seconds for c in cases):.3f}")
    for case in cases:
        node = ElementTree.SubElement(element, "testcase", name=case.name, classname=case.classname,
                                      time=f"{case.seconds:.3f}")
        if case.failure:
            ElementTree.SubElement(node, "failure", message=case.failure[:500]).text = case.failure
        if case.output:
            ElementTree.SubElement(node, "system-out").text = case.output
    write_atomically(path, ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))
    return path
