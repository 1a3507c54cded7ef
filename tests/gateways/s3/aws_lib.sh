# shellcheck shell=bash
# tests/gateways/s3/aws_lib.sh — the aws CLI's environment for the S3 tests
# that drive a real aws CLI: cli_clients_test.sh (against `cairn dev`) and
# cluster_s3_test.sh (against a 3-node cluster). Sourced, not run; sets
# nothing until its one function is called.
#
# Owner: the S3 gateway's client tests (tests/gateways/s3).
#
#   aws_cli_env DIR ACCESS SECRET
#       unsets every AWS_* variable the test inherited (nothing of the
#       caller's AWS setup leaks in), then exports the key pair ACCESS and
#       SECRET, region us-east-1, no pager, no EC2 metadata lookups, and
#       AWS_CONFIG_FILE=DIR/aws-config, written here (path-style
#       addressing; multipart from 8 MiB, in 8 MiB parts), with an empty
#       AWS_SHARED_CREDENTIALS_FILE=DIR/aws-credentials.

aws_cli_env() {
  local dir=$1 access_key=$2 secret_key=$3 v
  while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -E '^AWS_' || true)
  export AWS_ACCESS_KEY_ID=$access_key AWS_SECRET_ACCESS_KEY=$secret_key AWS_DEFAULT_REGION=us-east-1
  export AWS_CONFIG_FILE="$dir/aws-config" AWS_SHARED_CREDENTIALS_FILE="$dir/aws-credentials"
  export AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
  cat >"$AWS_CONFIG_FILE" <<EOF
[default]
region = us-east-1
s3 =
  addressing_style = path
  multipart_threshold = 8MB
  multipart_chunksize = 8MB
EOF
  : >"$AWS_SHARED_CREDENTIALS_FILE"
}
