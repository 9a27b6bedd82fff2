"""Create the template's tables, keys and buckets on an AWS emulator, and export their names.

The AWS conformance suites and flows run against moto on loopback. Their tables, KMS keys and
buckets are created from template.yaml itself (not from a second description kept by hand), so
the key schema, indexes and TTL attribute the code is tested against are the ones that deploy.

Usage:
  provision.py --endpoint http://127.0.0.1:PORT --template template.yaml --env-out FILE

FILE gets one `export NAME=value` per Globals.Function environment variable that is a `!Ref`
to a created resource (WARDEN_TABLE, WARDEN_KMS_KEY_ID, ...), plus the AWS_* settings that
point an SDK at the emulator. Every resource type in the template is either created here or
listed in NOT_EMULATED; an unknown type, an unreachable endpoint or a failed call exits 1.
"""

import argparse
import os
import secrets
import shlex
import sys
from urllib.parse import urlparse

import boto3
import botocore.config
import botocore.exceptions
import yaml

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}

# Resource types the tests do not need on the emulator (compute, routing, policies, logs, names).
NOT_EMULATED = {
    "AWS::Serverless::Function",
    "AWS::Serverless::HttpApi",
    "AWS::Logs::LogGroup",
    "AWS::S3::BucketPolicy",
    "AWS::KMS::Alias",
    "AWS::CloudWatch::Alarm",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::Logs::MetricFilter",
}


class Failure(Exception):
    pass


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation short tags (!Ref X -> {"Ref": X}, !Sub -> Fn::Sub...)."""


def _short_tag(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _short_tag)


def literal(value, where):
    """`value` if it holds no intrinsic function (this script does not evaluate them)."""
    if isinstance(value, dict):
        if len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
            raise Failure(f"{where}: intrinsic {value!r} is not supported by provision.py")
        return {k: literal(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [literal(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def physical_name(logical_id):
    return f"warden-{logical_id.lower()}-{secrets.token_hex(3)}"


def parameter_default(value, template, where):
    """A `!Ref` to a template parameter, as its default (the tests deploy with the defaults)."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        param = (template.get("Parameters") or {}).get(value["Ref"])
        if param is None or "Default" not in param:
            raise Failure(f"{where}: {value!r} is not a parameter with a default")
        return str(param["Default"])
    return literal(value, where)


def create_table(ddb, logical_id, props, template):
    used = ("AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput",
            "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "TimeToLiveSpecification")
    p = literal({k: props[k] for k in used if k in props}, logical_id)  # the rest is not emulated
    name = physical_name(logical_id)
    args = {
        "TableName": name,
        "AttributeDefinitions": p["AttributeDefinitions"],
        "KeySchema": p["KeySchema"],
        "BillingMode": p.get("BillingMode", "PROVISIONED"),
    }
    if "ProvisionedThroughput" in p:
        args["ProvisionedThroughput"] = p["ProvisionedThroughput"]
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if p.get(kind):
            keep = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
            args[kind] = [{k: ix[k] for k in keep if k in ix} for ix in p[kind]]
    ddb.create_table(**args)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ttl = p.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])},
        )
    return name


KEY_KINDS = {("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), ("RSA_2048", "SIGN_VERIFY")}


def create_key(kms, logical_id, props, template):
    spec = props.get("KeySpec", "SYMMETRIC_DEFAULT")
    usage = props.get("KeyUsage", "ENCRYPT_DECRYPT")
    if (spec, usage) not in KEY_KINDS:
        raise Failure(f"{logical_id}: {spec}/{usage} keys are not provisioned")
    key_id = kms.create_key(Description=f"warden test {logical_id}", KeySpec=spec, KeyUsage=usage)[
        "KeyMetadata"
    ]["KeyId"]
    if props.get("EnableKeyRotation") is True:
        kms.enable_key_rotation(KeyId=key_id)
    return key_id


def create_bucket(s3, logical_id, props, template):
    name = physical_name(logical_id)
    locked = props.get("ObjectLockEnabled") is True
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=locked)  # us-east-1: no LocationConstraint
    if locked:
        where = f"{logical_id}.ObjectLockConfiguration.Rule.DefaultRetention"
        rule = props["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
        retention = {
            "Mode": literal(rule["Mode"], where),
            "Days": int(parameter_default(rule["Days"], template, where)),
        }
        s3.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": retention}},
        )
    versioning = literal(props.get("VersioningConfiguration", {}), f"{logical_id}.VersioningConfiguration")
    if versioning.get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def create_configuration_set(sesv2, logical_id, props, template):
    name = physical_name(logical_id)
    sesv2.create_configuration_set(ConfigurationSetName=name)
    return name


def create_email_identity(sesv2, logical_id, props, template):
    """The sender identity (moto treats it as verified); its Ref is the address itself."""
    address = parameter_default(props.get("EmailIdentity"), template, f"{logical_id}.EmailIdentity")
    sesv2.create_email_identity(EmailIdentity=address)
    return address


def create_event_bus(events, logical_id, props, template):
    """The bus, and a tap for the tests: a rule sending everything with Source warden.privacy to
    an SQS queue named `{bus}-tap`, which moto delivers to and moto_serial.py lists."""
    name = physical_name(logical_id)
    events.create_event_bus(Name=name)
    sqs = boto3.client("sqs", endpoint_url=events.meta.endpoint_url, region_name=REGION, **CREDENTIALS)
    queue = sqs.create_queue(QueueName=f"{name}-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"{name}-tap", EventBusName=name, EventPattern='{"source": ["warden.privacy"]}')
    events.put_targets(Rule=f"{name}-tap", EventBusName=name, Targets=[{"Id": "tap", "Arn": arn}])
    return name


CREATORS = {  # type -> (service, creator); keys first, so later resources could refer to them
    "AWS::KMS::Key": ("kms", create_key),
    "AWS::DynamoDB::Table": ("dynamodb", create_table),
    "AWS::S3::Bucket": ("s3", create_bucket),
    "AWS::SES::ConfigurationSet": ("sesv2", create_configuration_set),
    "AWS::SES::EmailIdentity": ("sesv2", create_email_identity),
    "AWS::Events::EventBus": ("events", create_event_bus),
}


def provision(endpoint, template):
    resources = template.get("Resources") or {}
    unknown = sorted({r.get("Type") for r in resources.values()} - set(CREATORS) - NOT_EMULATED)
    if unknown:
        raise Failure(f"resource types neither provisioned nor listed in NOT_EMULATED: {unknown}")
    config = botocore.config.Config(
        connect_timeout=5, read_timeout=30, retries={"max_attempts": 2}, s3={"addressing_style": "path"}
    )
    clients = {}
    created = {}  # logical id -> physical name / key id
    for rtype, (service, create) in CREATORS.items():
        for logical_id, res in resources.items():
            if res.get("Type") != rtype:
                continue
            if service not in clients:
                clients[service] = boto3.client(
                    service, endpoint_url=endpoint, region_name=REGION, config=config, **CREDENTIALS
                )
            try:
                props = res.get("Properties") or {}
                created[logical_id] = create(clients[service], logical_id, props, template)
            except botocore.exceptions.EndpointConnectionError as e:
                raise Failure(f"emulator unreachable at {endpoint}: {e}") from None
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                raise Failure(f"{logical_id} ({rtype}): {e}") from None
            print(f"provision: {rtype} {logical_id} -> {created[logical_id]}")
    skipped = sorted(f"{lid} ({r.get('Type')})" for lid, r in resources.items() if lid not in created)
    if skipped:
        print("provision: not emulated: " + ", ".join(skipped))
    return created


def env_lines(endpoint, template, created):
    variables = (
        ((template.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables", {})
    )
    resources = template.get("Resources") or {}
    # Function-level variables too (the audit digest key and bucket are the scan's alone): the
    # tests play every function.
    variables = dict(variables)
    for res in resources.values():
        if res.get("Type") == "AWS::Serverless::Function":
            own = ((res.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
            for name, value in own.items():
                variables.setdefault(name, value)
    lines = []
    for name, value in variables.items():
        ref = value.get("Ref") if isinstance(value, dict) else None
        if ref is None and isinstance(value, dict) and "Fn::GetAtt" in value:
            ref = value["Fn::GetAtt"][0]  # the created key id stands for the key's ARN
        if ref in created:
            lines.append(f"export {name}={shlex.quote(created[ref])}")
        elif ref in resources:
            print(f"provision: {name} refers to {ref}, which is not emulated; not exported")
    lines += [
        f"export AWS_ENDPOINT_URL={shlex.quote(endpoint)}",
        f"export AWS_REGION={REGION}",
        f"export AWS_ACCESS_KEY_ID={CREDENTIALS['aws_access_key_id']}",
        f"export AWS_SECRET_ACCESS_KEY={CREDENTIALS['aws_secret_access_key']}",
    ]
    return lines


def main():
    ap = argparse.ArgumentParser(description="Provision template.yaml's tables, keys and buckets on an emulator.")
    ap.add_argument("--endpoint", required=True, help="emulator URL, e.g. http://127.0.0.1:5000")
    ap.add_argument("--template", required=True, help="path to template.yaml")
    ap.add_argument("--env-out", required=True, help="file to write `export NAME=value` lines to")
    args = ap.parse_args()
    endpoint = args.endpoint.rstrip("/")
    try:
        if urlparse(endpoint).hostname not in ("127.0.0.1", "localhost", "::1"):
            raise Failure(f"refusing a non-loopback endpoint: {endpoint}")
        with open(args.template, encoding="utf-8") as f:
            template = yaml.load(f, Loader=CfnLoader)
        created = provision(endpoint, template)
        lines = env_lines(endpoint, template, created)
        tmp = f"{args.env_out}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, args.env_out)  # never leave a half-written env file to be sourced
    except (Failure, OSError, yaml.YAMLError) as e:
        sys.exit(f"provision.py: {e}")
    print(f"provision: wrote {len(lines)} variables to {args.env_out}")


if __name__ == "__main__":
    main()
