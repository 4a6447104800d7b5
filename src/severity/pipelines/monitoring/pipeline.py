"""Monitoring: the reference training leaves behind, and the checks of a current batch against it.

``monitoring_baseline`` runs inside ``training``: it keeps the training split described as the
reference and audits the champion on the test split. ``monitoring`` runs whenever a batch
should be checked: a window of the service's prediction log or a CSV of new events.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    audit_baseline,
    audit_current_fairness,
    build_monitoring_reference,
    deliver_alerts,
    estimate_current_performance,
    monitor_calibration,
    monitor_data_drift,
    monitor_prediction_drift,
    monitoring_metrics,
    prepare_current_batch,
    raise_alerts,
    request_retraining,
    score_monitoring_baseline,
    write_monitoring_report,
)


def create_baseline_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=build_monitoring_reference,
                inputs=["train_events", "champion_model", "shap_values", "params:monitoring"],
                outputs=["monitoring_profile", "monitoring_reference"],
                name="build_monitoring_reference_node",
            ),
            Node(
                func=score_monitoring_baseline,
                inputs=["test_events", "champion_model", "monitoring_profile"],
                outputs="monitoring_baseline",
                name="score_monitoring_baseline_node",
            ),
            Node(
                func=audit_baseline,
                inputs=["monitoring_baseline", "champion_model", "params:monitoring"],
                outputs=[
                    "test_fairness_by_group",
                    "test_weak_slices",
                    "test_fairness_summary",
                    "test_fairness_figure",
                    "test_performance_estimate_check",
                ],
                name="audit_baseline_node",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=prepare_current_batch,
                inputs=[
                    "prediction_log",
                    "monitoring_current_raw",
                    "monitoring_labels_raw",
                    "champion_model",
                    "served_bento_model",
                    "monitoring_profile",
                    "params:monitoring",
                ],
                outputs=["monitoring_current", "monitoring_batch"],
                name="prepare_current_batch_node",
            ),
            Node(
                func=monitor_data_drift,
                inputs=["monitoring_reference", "monitoring_current", "monitoring_profile", "params:monitoring"],
                outputs=["data_drift_summary", "data_drift_metrics"],
                name="monitor_data_drift_node",
            ),
            Node(
                func=monitor_prediction_drift,
                inputs=["served_bento_model", "monitoring_current", "params:monitoring"],
                outputs=["prediction_drift_summary", "prediction_drift_figure"],
                name="monitor_prediction_drift_node",
            ),
            Node(
                func=estimate_current_performance,
                inputs=["monitoring_current", "monitoring_baseline", "served_bento_model", "params:monitoring"],
                outputs="performance_estimate",
                name="estimate_current_performance_node",
            ),
            Node(
                func=audit_current_fairness,
                inputs=["monitoring_current", "params:monitoring"],
                outputs=["current_fairness_by_group", "current_weak_slices", "current_fairness_summary"],
                name="audit_current_fairness_node",
            ),
            Node(
                func=monitor_calibration,
                inputs=["monitoring_current", "params:monitoring"],
                outputs=[
                    "calibration_by_period",
                    "calibration_reliability",
                    "calibration_summary",
                    "calibration_figure",
                    "calibration_metrics",
                ],
                name="monitor_calibration_node",
            ),
            Node(
                func=raise_alerts,
                inputs=[
                    "data_drift_summary",
                    "prediction_drift_summary",
                    "performance_estimate",
                    "current_fairness_summary",
                    "monitoring_batch",
                    "params:monitoring",
                    "calibration_summary",
                ],
                outputs="monitoring_alerts",
                name="raise_alerts_node",
            ),
            Node(
                func=write_monitoring_report,
                inputs=[
                    "monitoring_reference",
                    "served_bento_model",
                    "monitoring_current",
                    "monitoring_profile",
                    "data_drift_summary",
                    "prediction_drift_summary",
                    "performance_estimate",
                    "current_fairness_summary",
                    "calibration_summary",
                    "monitoring_alerts",
                    "params:monitoring",
                ],
                outputs="monitoring_report",
                name="write_monitoring_report_node",
            ),
            Node(
                func=deliver_alerts,
                inputs=["monitoring_alerts", "alert_state", "smtp_credentials", "params:monitoring"],
                outputs=["alert_delivery", "alert_state_updated"],
                name="deliver_alerts_node",
            ),
            Node(
                func=request_retraining,
                inputs=["monitoring_alerts", "params:monitoring"],
                outputs="retrain_request",
                name="request_retraining_node",
            ),
            Node(
                func=monitoring_metrics,
                inputs=["performance_estimate", "monitoring_alerts"],
                outputs="monitoring_run_metrics",
                name="summarise_monitoring_node",
            ),
        ]
    )
