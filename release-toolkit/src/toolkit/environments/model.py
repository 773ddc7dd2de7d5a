"""One environment file (environments/<name>.toml), validated into a typed model.

Values may reference environment variables as ``${NAME}``; secret values never live in the file,
only where they come from. A ``[sandbox]`` table holds the values that differ on the sandbox
target and is merged over the rest when the sandbox is the target.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, ValidationError, model_validator

from toolkit.configuration import ConfigError, Strict, explain, read_toml, resolve_variables

NAMES = ("qa", "staging", "prod")
DEPLOYMENT_ID = re.compile(r"^[a-z0-9]{1,12}$")
_NAME = r"^[A-Za-z0-9_.-]+$"
Container = Annotated[str, Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$",
                                 description="a blob container name: 3-63 lowercase letters, digits and dashes")]


class InfrastructureSettings(Strict):
    resource_group: str = Field(description="resource group; {deployment_id} is replaced for on-demand QA")
    location: str
    template: str = "arm/azuredeploy.json"
    parameters_file: str = Field(description="ARM parameter file inside the bundle, e.g. "
                                             "arm/parameters/azuredeploy.parameters.qa.json")
    parameters: dict[str, str] = Field(default_factory=dict, description="overrides of the parameter file")
    deploy: Literal["always", "when-asked"] = "when-asked"


class StorageKeySecret(Strict):
    source: Literal["storage-account-key"]


class DatabricksTokenSecret(Strict):
    source: Literal["databricks-token"]
    lifetime_days: int = Field(90, ge=1, le=730)
    renew_within_days: int = Field(30, ge=0)


class VariableSecret(Strict):
    source: Literal["environment-variable"]
    variable: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")


SecretSource = Annotated[Union[StorageKeySecret, DatabricksTokenSecret, VariableSecret],
                         Field(discriminator="source")]


class StorageLocation(Strict):
    resource_group: str
    account: str = Field(pattern=r"^[a-z0-9]{3,24}$")
    container: Container
    prefix: str = ""


class LakeLocation(Strict):
    container: Container
    prefix: str = ""


class Copy(Strict):
    source: StorageLocation
    destination: LakeLocation


class Hydration(Strict):
    environment: Literal["prod"]
    source: LakeLocation
    destination: LakeLocation


class DataSettings(Strict):
    copy_: list[Copy] = Field(default_factory=list, alias="copy")
    hydrate: Hydration | None = None


class UnityCatalogSettings(Strict):
    """Unity Catalog storage access: the lake's container as an external location, reached with the Access
    Connector's managed identity (a storage credential), and the environment's catalog."""
    catalog: str = Field("parking_{environment}", description="the environment's catalog; {environment} and "
                         "{deployment_id} are replaced (an on-demand environment's must contain {deployment_id})")
    schemas: list[str] = Field(["interim", "malformed", "dw"], description="the schemas the application uses")
    managed_location: str = Field("_unity_catalog", pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
                                  description="the catalog's managed storage, a folder of the lake's container "
                                  "(inside its external location)")
    job_principal: str | None = Field(None, description="who runs the notebooks (Data Factory's token and the "
                                      "release's runs): an application id, user or group; default: the deployer")
    validation_timeout_minutes: int = Field(15, ge=1, le=120, description="how long a new role assignment may take "
                                            "to reach storage before the step gives up")

    @model_validator(mode="after")
    def _names(self) -> "UnityCatalogSettings":
        for schema in self.schemas:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,254}", schema):
                raise ValueError(f"unity_catalog.schemas: {schema!r} is not a schema name (lowercase letters, digits, "
                                 "underscores)")
        if not re.fullmatch(r"[a-z0-9_]{1,200}", self.catalog.replace("{environment}", "x").replace(
                "{deployment_id}", "x")):
            raise ValueError(f"unity_catalog.catalog: {self.catalog!r}: lowercase letters, digits and underscores, "
                             "with {environment} and {deployment_id} as placeholders")
        return self


class DatabricksSettings(Strict):
    secret_scope: str = Field(pattern=_NAME)
    storage_access: Literal["unity-catalog", "mount"] = Field(
        "unity-catalog", description="unity-catalog: an external location reached with a managed identity (what "
        "Databricks supports, and all an account opened today has); mount: dbutils.fs.mount with the account key "
        "(legacy workspaces only)")
    unity_catalog: UnityCatalogSettings = UnityCatalogSettings()
    mount_point: str = Field("/mnt/datalake", pattern=r"^/mnt/[A-Za-z0-9_-]+$",
                             description="mount mode's mount point (and, in unity-catalog mode, the mount a migration "
                             "retires)")
    lake_container: Container = "datalake"
    release_root: str = Field("/parking-sensors/releases", pattern=r"^/[A-Za-z0-9_./-]+$")
    cluster_name: str = Field(pattern=_NAME)
    table_format: Literal["delta", "parquet"] = "delta"
    libraries_root: Literal["workspace"] = "workspace"


class DataFactorySettings(Strict):
    triggers: Literal["activate", "keep"] = Field("keep", description="activate: start every trigger after the "
                                                  "deploy; keep: leave each as it was (new ones stopped)")
    delete_missing: bool = False
    properties: dict[str, str] = Field(default_factory=dict, description="'<kind>.<name>.<json.path>' = value")


class IntegrationTestSettings(Strict):
    pipeline: str
    parameters: dict[str, str] = Field(default_factory=dict, description="the pipeline run's parameters")
    notebook: str = "99_integration_test"
    notebook_parameters: dict[str, str] = Field(default_factory=dict, description="widgets of the notebook; "
                                                "{run_id}, {lake_root}, {table_format}, {activity.<name>.<key>}")
    timeout_minutes: int = Field(30, ge=1)
    max_unknown_share: dict[str, float] = Field(
        default_factory=dict, description="reference coverage: per dimension, the largest share (0 to 1) of the "
        "load's facts that may point at its unknown member (the notebook reports the share as coverage)")

    @model_validator(mode="after")
    def _shares(self) -> "IntegrationTestSettings":
        for name, share in self.max_unknown_share.items():
            if not 0 <= share <= 1:
                raise ValueError(f"integration_tests.max_unknown_share.{name}: a share from 0 to 1, got {share}")
        return self


class SmokeTestSettings(Strict):
    notebook: str = "99_integration_test"
    parameters: dict[str, str] = Field(default_factory=dict, description="widgets of the notebook; {lake_root}, "
                                       "{table_format}, {slot} and {version} are replaced")
    timeout_minutes: int = Field(20, ge=1)


class SlotSettings(Strict):
    """Blue/green: two complete copies of the data application, one live (what the factory's pointer names)."""
    names: tuple[str, str] = Field(("blue", "green"), description="the two slots")
    root: str = Field("/parking-sensors/slots", pattern=r"^/[A-Za-z0-9_./-]+$",
                      description="each slot's notebooks and libraries live under <root>/<slot>")
    smoke_test: SmokeTestSettings = SmokeTestSettings()

    @model_validator(mode="after")
    def _distinct(self) -> "SlotSettings":
        if self.names[0] == self.names[1] or not all(re.fullmatch(r"[a-z][a-z0-9-]{0,19}", n) for n in self.names):
            raise ValueError(f"slots.names: two different lowercase names (got {list(self.names)})")
        return self


TableName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$",
                                 description="a table by its folder under the lake root, e.g. dw/fact_parking")]


class ChangePattern(Strict):
    """A change the audit lets through: a table (and column, or dimension for coverage) by glob pattern, and the
    kind of change (``*``: any)."""
    table: str = Field(description="glob over table names, e.g. dw/fact_parking or interim/*")
    column: str = Field("*", description="glob over column names (for coverage: dimension names)")
    change: Literal["*", "column-added", "column-removed", "column-retyped", "rows", "keys", "values", "coverage",
                    "table"] = "*"
    why: str = ""


class AuditInput(Strict):
    """How the live load is read off the pipeline run that landed it ({run_id}, {activity.<name>.<key>} from the
    run's activity outputs)."""
    folder: str = Field(description="the landing folder, relative to the lake root")
    load_id: str = "{run_id}"
    loaded_on: str = Field(description="the load's instant (ISO 8601), as the run gave it to the notebooks")


class AuditNotebook(Strict):
    notebook: str = Field(pattern=_NAME)
    parameters: dict[str, str] = Field(default_factory=dict, description="widgets; {lake_root} (the shadow root), "
                                       "{table_format}, {input}, {load_id}, {loaded_on} are replaced")


class AuditTable(Strict):
    keys: list[str] = Field(default_factory=list, description="business key; none: rows are compared whole")


class AuditCoverage(Strict):
    table: TableName
    columns: dict[str, str] = Field(description="fact column -> dimension name")
    unknown_key: int = -1


class AuditGates(Strict):
    allow_added_columns: bool = True
    allow_removed_columns: bool = False
    allow_retyped_columns: bool = False
    max_row_change_percent: float = Field(0.0, ge=0, description="per table, |candidate - baseline| / baseline rows")
    max_key_change_percent: float = Field(0.0, ge=0, description="per table, keys added + removed / baseline keys")
    max_value_change_percent: float = Field(0.0, ge=0, description="per column, changed rows / matched rows")
    max_coverage_change_points: float = Field(0.0, ge=0, description="per dimension, change of the share of facts "
                                              "at the unknown member, in percentage points")
    allowed_changes: list[ChangePattern] = Field(default_factory=list, description="standing exceptions")


class AuditSettings(Strict):
    """Before a swap: the idle slot's notebooks run production's last landed load in a shadow area, and so do the
    live slot's; the two outputs are compared and gated (README: Audit before the swap)."""
    pipeline: str = Field(pattern=_NAME, description="the pipeline whose last successful run landed the input")
    input: AuditInput
    notebooks: list[AuditNotebook] = Field(min_length=1, description="what the pipeline runs, in order")
    start_tables: list[TableName] = Field(default_factory=list, description="tables carried from load to load "
                                          "(dimensions): copied from the live lake, without the audited load's rows")
    load_column: str = "load_id"
    tables: dict[TableName, AuditTable] = Field(min_length=1, description="what is compared")
    coverage: AuditCoverage | None = None
    gates: AuditGates = AuditGates()
    area: str = Field("_audit", pattern=r"^[A-Za-z0-9_.-]+$", description="the lake folder of shadow areas")
    keep: int = Field(3, ge=1, description="shadow areas kept (the newest), so an audit can be read again")
    lookback_days: int = Field(30, ge=1, le=90)
    examples: int = Field(3, ge=0, le=20)
    timeout_minutes: int = Field(30, ge=1)


class PromotionRule(Strict):
    requires: list[Literal["qa", "staging"]] = Field(
        default_factory=list, description="environments whose integration tests a version must have passed first")


class AzureSettings(Strict):
    tenant_id: str | None = None
    subscription_id: str | None = None


class Environment(Strict):
    name: Literal["qa", "staging", "prod"]
    on_demand: bool = False
    azure: AzureSettings = AzureSettings()
    infrastructure: InfrastructureSettings
    secrets: dict[str, SecretSource] = Field(default_factory=dict)
    data: DataSettings = DataSettings()
    databricks: DatabricksSettings
    datafactory: DataFactorySettings = DataFactorySettings()
    integration_tests: IntegrationTestSettings | None = None
    slots: SlotSettings | None = None
    audit: AuditSettings | None = None
    promotion: PromotionRule = PromotionRule()
    source: str = ""

    @model_validator(mode="after")
    def _names(self) -> "Environment":
        for name in self.secrets:
            if not re.fullmatch(r"[0-9a-zA-Z-]{1,127}", name):
                raise ValueError(f"secrets.{name}: a Key Vault secret name has 1-127 letters, digits and dashes")
        if self.audit is not None and self.slots is None:
            raise ValueError("audit: the audit compares the idle slot with the live one: it needs [slots]")
        if self.on_demand and "{deployment_id}" not in self.databricks.unity_catalog.catalog:
            raise ValueError("databricks.unity_catalog.catalog: an on-demand environment's catalog must contain "
                             "{deployment_id} (two deployments would share it, and one's teardown would drop it)")
        return self

    def catalog_name(self, deployment_id: str | None) -> str:
        """The Unity Catalog catalog of this environment (of this deployment, when on demand)."""
        return self.databricks.unity_catalog.catalog.replace("{environment}", self.name).replace(
            "{deployment_id}", deployment_id or "")

    def resource_group(self, deployment_id: str | None) -> str:
        if self.on_demand:
            if not deployment_id or not DEPLOYMENT_ID.match(deployment_id):
                raise ConfigError(f"{self.source}: the {self.name} environment is on demand: give a deployment id "
                                  f"of 1-12 lowercase letters and digits (got {deployment_id!r})")
            return self.infrastructure.resource_group.replace("{deployment_id}", deployment_id)
        return self.infrastructure.resource_group

    def resource_names(self, subscription_id: str, deployment_id: str | None) -> dict[str, str]:
        """The Azure names of this environment's resources (by ARM template parameter), before any call."""
        from toolkit.environments.naming import resource_names

        return resource_names(self.name, subscription_id, self.resource_group(deployment_id),
                              deployment_id if self.on_demand else None)


def _merge(base: dict, overrides: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def load_environment(folder: Path, name: str, target: str, environ: dict[str, str] | None = None) -> Environment:
    """The environment ``name`` from ``folder/<name>.toml`` as seen from ``target`` ("sandbox" or "azure")."""
    if name not in NAMES:
        raise ConfigError(f"unknown environment {name!r}: expected one of {', '.join(NAMES)}")
    path = folder / f"{name}.toml"
    document = read_toml(path, f"environment file of {name}")
    sandbox_values = document.pop("sandbox", {})
    azure_as_written = None
    if target == "sandbox":
        document = _merge(document, sandbox_values)
        # [azure] is not needed on the sandbox, and its ${VARIABLES} are not resolved there; it is still checked as
        # written, so a typo in it shows before the day Azure is the target.
        azure_as_written = document.pop("azure", None)
    document = resolve_variables(document, str(path), environ)
    try:
        if azure_as_written is not None:
            Environment.model_validate({**document, "azure": azure_as_written, "source": str(path)})
        environment = Environment.model_validate({**document, "source": str(path)})
    except ValidationError as exc:
        raise ConfigError(explain(exc, str(path), ("storage-account-key", "databricks-token", "environment-variable"),
                                  discriminator="source")) from None
    if environment.name != name:
        raise ConfigError(f"{path}: name: the file of environment {name!r} says name = {environment.name!r}")
    return environment
