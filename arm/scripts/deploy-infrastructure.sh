#!/usr/bin/env bash
# Deploy the infrastructure template with the Azure CLI, for someone without the toolkit at hand.
# The release stages do the same through the ARM REST API (validate, what-if, deploy).
#
#   arm/scripts/deploy-infrastructure.sh RESOURCE_GROUP ENVIRONMENT [DEPLOYMENT_ID]
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 RESOURCE_GROUP qa|staging|prod [DEPLOYMENT_ID]" >&2
  exit 2
fi
resource_group=$1 environment=$2 deployment_id=${3:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
case $environment in qa|staging|prod) ;; *) echo "$0: unknown environment '$environment'" >&2; exit 2;; esac

az deployment group create \
  --resource-group "$resource_group" \
  --name "parking-infra-$environment${deployment_id:+-$deployment_id}-$(date -u +%Y%m%d%H%M%S)" \
  --template-file "$here/azuredeploy.json" \
  --parameters "@$here/parameters/azuredeploy.parameters.$environment.json" \
  --parameters deploymentId="$deployment_id" \
  --output json
