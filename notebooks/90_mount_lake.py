# Databricks notebook source
# MAGIC %md
# MAGIC # Mount the lake
# MAGIC Mounts the environment's lake container at the mount point, with the storage account key read
# MAGIC from the secret scope. Idempotent: a mount already pointing at the same source is kept; one
# MAGIC pointing elsewhere is replaced. Run by the release (storage access step, `mount` mode only, on
# MAGIC legacy workspaces), not by ADF. `action = unmount` removes the mount (a switch to Unity Catalog).

# COMMAND ----------

import json

# COMMAND ----------

# The mount point by name (/mnt/<name>): a widget holding a mounted path would be read as that path.
dbutils.widgets.text("mount_name", "datalake", "Mount name (mounted at /mnt/<name>)")
dbutils.widgets.text("account", "", "Storage account")
dbutils.widgets.text("container", "datalake", "Container")
dbutils.widgets.text("secret_scope", "", "Secret scope holding the account key")
dbutils.widgets.text("secret_key", "", "Name of the account key in the scope")
dbutils.widgets.dropdown("action", "mount", ["mount", "unmount"], "mount, or unmount")

# COMMAND ----------

mount_point = f"/mnt/{dbutils.widgets.get('mount_name')}"
if dbutils.widgets.get("action") == "unmount":
    mounted = mount_point in {m.mountPoint for m in dbutils.fs.mounts()}
    if mounted:
        dbutils.fs.unmount(mount_point)
    dbutils.notebook.exit(json.dumps({"mount_point": mount_point, "unmounted": mounted}))

# COMMAND ----------

account = dbutils.widgets.get("account")
source = f"wasbs://{dbutils.widgets.get('container')}@{account}.blob.core.windows.net/"
current = {m.mountPoint: m.source for m in dbutils.fs.mounts()}
changed = current.get(mount_point) != source
if changed:
    if mount_point in current:
        dbutils.fs.unmount(mount_point)
    key = dbutils.secrets.get(dbutils.widgets.get("secret_scope"), dbutils.widgets.get("secret_key"))
    dbutils.fs.mount(source=source, mount_point=mount_point,
                     extra_configs={f"fs.azure.account.key.{account}.blob.core.windows.net": key})

# COMMAND ----------

dbutils.notebook.exit(json.dumps({"mount_point": mount_point, "source": source, "changed": changed}))
