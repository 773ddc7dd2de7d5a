"""The expression languages of the sandbox: ADF expressions and ARM template expressions."""
from datetime import datetime, timezone

import pytest

from sandbox.adf.expressions import Evaluator, format_datetime
from sandbox.arm_template import TemplateContext, TemplateError, unique_string
from sandbox.expression_language import ExpressionError

NOW = datetime(2026, 11, 26, 10, 15, 30, 123456, tzinfo=timezone.utc)


def _adf(**variables):
    pipeline = {"RunId": "run-1", "parameters": {"folder": "src/m"}, "globalParameters": {"root": "/live"}}
    return Evaluator(pipeline, variables, {"First": {"output": {"runOutput": {"rows": 3}}}}, now=lambda: NOW)


@pytest.mark.parametrize("expression, expected", [
    ("@pipeline().RunId", "run-1"),
    ("@pipeline().parameters.folder", "src/m"),
    ("@concat(pipeline().globalParameters.root, '/01_standardize')", "/live/01_standardize"),
    ("@formatDateTime(utcnow(), 'yyyy_MM_dd_HH_mm_ss')", "2026_11_26_10_15_30"),
    ("@formatDateTime('2026-11-26T10:15:30.1234567Z', 'yyyy-MM-ddTHH:mm:ss.fff')", "2026-11-26T10:15:30.123"),
    ("@activity('First').output.runOutput.rows", 3),
    ("@activity('First').output['runOutput']['rows']", 3),
    ("@equals(variables('v'), 'x')", True),
    ("@toUpper(concat('a', 'b''c'))", "AB'C"),
    ("@@not an expression", "@not an expression"),
    ("load @{pipeline().RunId} at @{formatDateTime(utcnow(), 'HH:mm')}", "load run-1 at 10:15"),
    ("plain", "plain"),
])
def test_adf_expressions(expression, expected):
    assert _adf(v="x").resolve(expression) == expected


def test_adf_resolves_nested_definitions_and_scopes():
    evaluator = _adf().with_scope({"clusterId": "c-1"})
    assert evaluator.resolve({"a": [{"value": "@linkedService().clusterId", "type": "Expression"}], "b": 1}) == \
        {"a": ["c-1"], "b": 1}


@pytest.mark.parametrize("expression, error", [
    ("@guid()", "does not support the expression function guid()"),
    ("@variables('missing')", "variable 'missing' is not set"),
    ("@pipeline().nothing", "property 'nothing' does not exist"),
    ("@concat('a'", "unclosed function call"),
    ("@activity('Later').output", "activity 'Later' has not run"),
])
def test_adf_errors_name_the_problem(expression, error):
    with pytest.raises(ExpressionError, match=error):
        _adf().resolve(expression)


def test_format_datetime_default_is_adf_utcnow_shape():
    assert format_datetime(NOW) == "2026-11-26T10:15:30.1234560Z"


def _template(**parameters):
    template = {"parameters": {"env": {"type": "string", "allowedValues": ["qa", "prod"]},
                               "suffix": {"type": "string", "defaultValue": "[toLower('X1')]", "maxLength": 4}},
                "variables": {"name": "[concat('st', parameters('env'), parameters('suffix'))]",
                              "id": "[resourceId('Microsoft.KeyVault/vaults', variables('name'))]"}}
    return TemplateContext(template, parameters, "sub-1", "tenant-1", {"name": "rg", "location": "australiaeast"},
                           reference=lambda target, full: {"vaultUri": f"https://{target}/"})


def test_arm_template_functions():
    context = _template(env={"value": "qa"})
    assert context.variable("name") == "stqax1"
    assert context.variable("id") == "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/stqax1"
    assert context.resolve("[take(uniqueString(resourceGroup().id), 5)]") == unique_string(
        "/subscriptions/sub-1/resourceGroups/rg")[:5]
    assert context.resolve("[reference(variables('name')).vaultUri]") == "https://stqax1/"
    assert context.resolve("[format('{0}-{1}', subscription().tenantId, resourceGroup().location)]") == \
        "tenant-1-australiaeast"
    assert context.resolve("[[literal]") == "[literal]"
    assert len(unique_string("a")) == 13 and unique_string("a") == unique_string("a") != unique_string("b")


@pytest.mark.parametrize("parameters, error", [
    ({}, r"\$.parameters.env: the deployment sets no value for required parameter 'env'"),
    ({"env": {"value": "dev"}}, r"\$.parameters.env: 'dev' is not one of \['qa', 'prod'\]"),
    ({"env": {"value": "qa"}, "suffix": {"value": "toolong"}}, r"\$.parameters.suffix: longer than maxLength 4"),
    ({"env": {"value": "qa"}, "other": {"value": 1}}, "does not declare parameter 'other'"),
])
def test_arm_parameter_binding_errors(parameters, error):
    with pytest.raises(TemplateError, match=error):
        _template(**parameters)


def test_arm_unsupported_function_names_the_path():
    with pytest.raises(TemplateError, match=r"\$.x: the sandbox does not support the template function newGuid\(\)"):
        _template(env={"value": "qa"}).resolve("[newGuid()]", "$.x")
