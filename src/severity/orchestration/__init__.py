"""Airflow around the Kedro pipelines: the DAG template kedro-airflow fills, and the failure callback."""
