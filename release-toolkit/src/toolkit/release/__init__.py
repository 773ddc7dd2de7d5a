"""The release stages (deploy-qa, deploy-staging, deploy-prod) as composable steps: each plans what
it would change (reads only), then applies that plan (the only writes)."""
