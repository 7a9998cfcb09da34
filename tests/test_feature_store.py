"""The feature store's sagemaker code path, offline: every request it sends is valid for its service's botocore model,
and the same SQL gives the same rows as on the local target.

moto 5 serves SageMaker's CreateFeatureGroup/DescribeFeatureGroup, S3 and the Glue catalog, but neither the Feature
Store runtime (PutRecord, GetRecord, DeleteRecord) nor Athena's query engine (it accepts a query and answers no rows).
Those two are answered here, in the clients' `before-call` hook: the runtime by a dictionary of records, Athena by
DuckDB over the Parquet objects in moto's S3 that moto's Glue table points at, with the result written where Athena
writes it (a CSV file under the query's output location), so awswrangler reads it back as it reads Athena's.
"""
import io
import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters
from moto import mock_aws

from conftest import fake_aws_sagemaker_target

REGION, ACCOUNT, BUCKET = "us-east-1", "123456789012", "penguins-bucket"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
T0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


def _ok(parsed): return AWSResponse("https://aws", 200, {}, None), parsed


class FakeServices:
    "Answers the Feature Store runtime from a dictionary and Athena with DuckDB over moto's S3 and Glue."
    def __init__(self):
        self.records, self.queries, self.executions = {}, [], {}

    def register(self, events):
        events.register("before-call.sagemaker-featurestore-runtime", self.runtime)
        for op in ("StartQueryExecution", "GetQueryExecution", "GetQueryResults"):
            events.register(f"before-call.athena.{op}", self.athena)

    def runtime(self, model, params, **kwargs):
        body = json.loads(params["body"] or "{}")
        query = params.get("query_string", {})
        if model.name == "PutRecord":
            record = {f["FeatureName"]: f["ValueAsString"] for f in body["Record"]}
            self.records[record["penguin_id"]] = body["Record"]
            return _ok({})
        key = query.get("RecordIdentifierValueAsString")
        if model.name == "GetRecord": return _ok({"Record": self.records[key]} if key in self.records else {})
        if model.name == "DeleteRecord":
            self.records.pop(key, None)
            return _ok({})
        raise AssertionError(f"unexpected runtime operation {model.name}")

    def athena(self, model, params, **kwargs):
        body = json.loads(params["body"])
        if model.name == "StartQueryExecution":
            sql, database = body["QueryString"], body["QueryExecutionContext"]["Database"]
            self.queries.append(sql)
            execution_id = f"q{len(self.queries)}"
            output = body["ResultConfiguration"]["OutputLocation"].rstrip("/") + f"/{execution_id}.csv"
            result = _duckdb_over_moto(sql, database)
            bucket, key = output.removeprefix("s3://").split("/", 1)
            boto3.client("s3", region_name=REGION).put_object(Bucket=bucket, Key=key, Body=result.to_csv(index=False).encode())
            self.executions[execution_id] = (sql, database, output, result)
            return _ok({"QueryExecutionId": execution_id})
        sql, database, output, result = self.executions[body["QueryExecutionId"]]
        if model.name == "GetQueryExecution":
            now = datetime.now(timezone.utc)
            return _ok({"QueryExecution": {
                "QueryExecutionId": body["QueryExecutionId"], "Query": sql, "StatementType": "DML",
                "ResultConfiguration": {"OutputLocation": output}, "QueryExecutionContext": {"Database": database},
                "Status": {"State": "SUCCEEDED", "SubmissionDateTime": now, "CompletionDateTime": now},
                "Statistics": {"EngineExecutionTimeInMillis": 1, "DataScannedInBytes": 0}, "WorkGroup": "primary"}})
        types = {"int64": "bigint", "float64": "double", "bool": "boolean"}
        columns = [{"Name": c, "Label": c, "Type": types.get(str(t), "varchar")} for c, t in result.dtypes.items()]
        return _ok({"ResultSet": {"Rows": [], "ResultSetMetadata": {"ColumnInfo": columns}}})


def _duckdb_over_moto(sql: str, database: str) -> pd.DataFrame:
    "Run `sql` with DuckDB over every table of moto's Glue catalog, reading their Parquet objects from moto's S3."
    import duckdb
    glue, s3 = boto3.client("glue", region_name=REGION), boto3.client("s3", region_name=REGION)
    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        for db in glue.get_databases()["DatabaseList"]:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{db["Name"]}"')
            for table in glue.get_tables(DatabaseName=db["Name"])["TableList"]:
                location = table["StorageDescriptor"]["Location"]
                bucket, prefix = location.removeprefix("s3://").split("/", 1)
                folder = Path(tmp) / db["Name"] / table["Name"]
                for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
                    if obj["Key"].endswith(".parquet"):
                        target = folder / obj["Key"][len(prefix):].lstrip("/")
                        target.parent.mkdir(parents=True, exist_ok=True)
                        s3.download_file(bucket, obj["Key"], str(target))
                names = ", ".join(f'"{c["Name"]}"' for c in table["StorageDescriptor"]["Columns"])
                con.execute(f'CREATE VIEW "{db["Name"]}"."{table["Name"]}" AS SELECT {names} '
                            f"FROM read_parquet('{folder}/**/*.parquet', union_by_name = true)")
        con.execute(f"SET schema = '{database}'")
        return con.execute(sql).df()


@pytest.fixture
def aws(tmp_path, monkeypatch):
    "The sagemaker target under moto; every session's clients record their requests and see the fake services."
    fake_aws_sagemaker_target(monkeypatch, tmp_path, REGION, BUCKET, ROLE)
    fake, requests = FakeServices(), []
    def record(params, model, **kw): requests.append((model, json.loads(json.dumps(params, default=str))))
    init = boto3.session.Session.__init__
    def hooked(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.events.register_last("before-parameter-build", record)
        fake.register(self.events)
    monkeypatch.setattr(boto3.session.Session, "__init__", hooked)
    with mock_aws():
        boto3.setup_default_session(region_name=REGION)
        try:
            boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
            from workbook.config import load_settings
            yield load_settings(), fake, requests
        finally: boto3.DEFAULT_SESSION = None
    assert requests, "no request was recorded"
    for model, params in requests: validate_parameters(params, model.input_shape)  # each against its own service
    assert not (tmp_path / "store").exists(), "the sagemaker target must not write the local store"


def _penguins():
    from workbook.config import DATA_FILE
    from workbook.eda import clean_penguins, read_table
    return clean_penguins(read_table(DATA_FILE))


def _sent(requests, operation):
    return [params for model, params in requests if model.name == operation]


def test_create_feature_group_request_is_valid_for_the_service_model(tmp_path):
    from botocore.session import get_session
    from workbook.config import load_settings
    from workbook.features import engineer_features, feature_group_request
    settings = load_settings({}, store=tmp_path / "store")
    request = feature_group_request(engineer_features(_penguins(), T0), settings=settings)
    model = get_session().get_service_model("sagemaker")
    validate_parameters(request, model.operation_model("CreateFeatureGroup").input_shape)
    assert request["OnlineStoreConfig"] == {"EnableOnlineStore": True}


def test_feature_group_on_sagemaker_is_created_with_the_sdk_and_named_as_locally(aws, tmp_path):
    from workbook.config import load_settings
    from workbook.features import create_feature_group, engineer_features, feature_group_request
    settings, fake, requests = aws
    request = feature_group_request(engineer_features(_penguins(), T0), settings=settings)
    described = create_feature_group(request, settings)
    sent = _sent(requests, "CreateFeatureGroup")
    assert len(sent) == 1
    for key in ("FeatureGroupName", "RecordIdentifierFeatureName", "EventTimeFeatureName", "FeatureDefinitions", "RoleArn"):
        assert sent[0][key] == request[key], key
    assert sent[0]["OnlineStoreConfig"]["EnableOnlineStore"] is True
    assert sent[0]["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"] == f"s3://{BUCKET}/featurestore"
    # the Glue table's name follows the same rule as the local target's: name with '_', then the creation epoch
    epoch = int(described["OfflineStoreConfig"]["DataCatalogConfig"]["TableName"].rsplit("_", 1)[1])
    local = create_feature_group(request, load_settings({}, store=tmp_path / "local"),
                                 created=datetime.fromtimestamp(epoch, timezone.utc))
    assert described["OfflineStoreConfig"]["DataCatalogConfig"] == local["OfflineStoreConfig"]["DataCatalogConfig"]


def test_records_on_sagemaker_go_through_the_runtime_api(aws):
    from workbook.features import (create_feature_group, delete_record, engineer_features, feature_group_request,
                                   get_record, ingest, record_dict)
    settings, fake, requests = aws
    records = engineer_features(_penguins().head(5), T0)
    create_feature_group(feature_group_request(records, settings=settings), settings)
    assert ingest(records, settings=settings) == 5
    puts = _sent(requests, "PutRecord")
    assert len(puts) == 5 and {p["FeatureGroupName"] for p in puts} == {"penguins-features"}
    first = record_dict(get_record(1, settings=settings))
    assert (first["penguin_id"], first["species"], float(first["culmen_length_mm"])) == ("1", "Adelie", 39.1)
    assert record_dict(get_record(1, feature_names=["species"], settings=settings))  # FeatureNames is a valid member
    delete_record(1, T0, settings=settings)
    assert get_record(1, settings=settings) is None
    deletion = _sent(requests, "DeleteRecord")[0]
    assert (deletion["RecordIdentifierValueAsString"], deletion["EventTime"]) == ("1", "2024-05-01T12:00:00Z")


def test_lake_table_and_query_on_sagemaker_match_the_local_target(aws, tmp_path):
    from workbook.config import load_settings
    from workbook.features import catalog_tables, query, write_lake_table
    settings, fake, requests = aws
    penguins = _penguins()
    local = load_settings({}, store=tmp_path / "local", bucket=BUCKET)
    assert write_lake_table(penguins, "penguins", settings=settings) == write_lake_table(penguins, "penguins", settings=local)
    glue = boto3.client("glue", region_name=REGION).get_table(DatabaseName="penguins_lake", Name="penguins")["Table"]
    local_table = catalog_tables(local)[0]
    assert glue["StorageDescriptor"]["Columns"] == local_table["StorageDescriptor"]["Columns"]
    assert glue["StorageDescriptor"]["Location"].rstrip("/") == local_table["StorageDescriptor"]["Location"].rstrip("/")
    sql = ("SELECT species, island, count(*) AS penguins, avg(body_mass_g) AS mass FROM penguins_lake.penguins "
           "GROUP BY species, island ORDER BY species, island")
    on_sagemaker, on_local = query(sql, settings=settings), query(sql, settings=local)
    assert fake.queries == [sql]  # Athena received the SQL as written
    pd.testing.assert_frame_equal(on_sagemaker, on_local, check_dtype=False)
    assert on_local.penguins.sum() == len(penguins)


def test_point_in_time_sql_gives_the_same_training_set_on_both_targets(aws, tmp_path):
    "The local offline store's files, copied to where SageMaker's offline store keeps them: Athena's answer is DuckDB's."
    from workbook.config import load_settings, s3_to_local
    from workbook.features import (create_feature_group, delete_record, engineer_features, feature_group_request,
                                   ingest, register_table, training_set)
    settings, fake, requests = aws
    records = engineer_features(_penguins(), T0)
    described = create_feature_group(feature_group_request(records, settings=settings), settings)
    local = load_settings({}, store=tmp_path / "local", role=ROLE, bucket=BUCKET)
    group = create_feature_group(feature_group_request(records, settings=local), local)
    written = [datetime(2024, 5, d, tzinfo=timezone.utc) for d in (2, 3, 4)]
    ingest(records, settings=local, written=written[0])
    ingest(records.head(3).assign(event_time=written[1].timestamp(), culmen_length_mm=50.0), settings=local, written=written[1])
    delete_record(2, written[2], settings=local, written=written[2])
    # what Feature Store itself does on SageMaker: the files under ResolvedOutputS3Uri, and the Glue table over them
    uri = described["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"]
    folder = s3_to_local(group["OfflineStoreConfig"]["S3StorageConfig"]["ResolvedOutputS3Uri"], local)
    s3 = boto3.client("s3", region_name=REGION)
    for f in sorted(folder.rglob("*.parquet")):
        s3.upload_file(str(f), BUCKET, uri.removeprefix(f"s3://{BUCKET}/") + "/" + f.relative_to(folder).as_posix())
    catalog, local_catalog = (g["OfflineStoreConfig"]["DataCatalogConfig"] for g in (described, group))
    entry = json.loads((tmp_path / "local" / "catalog" / local_catalog["Database"] / f"{local_catalog['TableName']}.json").read_text())
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": catalog["Database"]})
    glue.create_table(DatabaseName=catalog["Database"], TableInput={
        "Name": catalog["TableName"], "TableType": "EXTERNAL_TABLE",
        "StorageDescriptor": {**entry["StorageDescriptor"], "Location": uri + "/"}})
    for as_of in (datetime(2024, 5, 2, 12, tzinfo=timezone.utc), datetime(2024, 5, 3, 12, tzinfo=timezone.utc),
                  datetime(2024, 5, 4, 12, tzinfo=timezone.utc)):
        on_sagemaker, on_local = training_set(as_of, settings=settings), training_set(as_of, settings=local)
        pd.testing.assert_frame_equal(on_sagemaker, on_local, check_dtype=False)
    assert len(on_local) == len(records) - 1  # penguin 2 was deleted
    assert on_local.set_index("penguin_id").culmen_length_mm[[1, 3]].tolist() == [50.0, 50.0]  # the corrections
    assert len(fake.queries) == 3 and all("row_number() OVER" in q for q in fake.queries)


@pytest.mark.slow
def test_pipeline_trains_from_the_feature_group(store):
    "`workbook run` with InputDataUrl at the feature group's offline store: the preprocessing reads it, the lineage names it."
    from conftest import run_cli
    from workbook.config import load_settings
    from workbook.features import publish_penguins
    uri = publish_penguins(settings=load_settings({}, store=store))
    env = {"WORKBOOK_STORE": str(store), "WORKBOOK_SEED": "42"}
    run = run_cli("run", "--param", f"InputDataUrl={uri}", env=env, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    logs = "".join(p.read_text() for p in (store / "executions").rglob("logs/penguins-preprocess-*.log"))
    assert "preprocessing: rows=342" in logs
    lineage = run_cli("lineage", "1", env=env, check=True).stdout
    assert "offline-store/penguins-features-" in lineage, lineage
