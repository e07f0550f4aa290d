from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VersionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERSION_STATE_UNSPECIFIED: _ClassVar[VersionState]
    NOT_LOADED: _ClassVar[VersionState]
    LOADING: _ClassVar[VersionState]
    READY: _ClassVar[VersionState]
    FAILED: _ClassVar[VersionState]
    RETIRED: _ClassVar[VersionState]

class DriftVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DRIFT_VERDICT_UNSPECIFIED: _ClassVar[DriftVerdict]
    DRIFT_OK: _ClassVar[DriftVerdict]
    DRIFT_WARN: _ClassVar[DriftVerdict]
    DRIFT_DRIFT: _ClassVar[DriftVerdict]

class RolloutAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_ACTION_UNSPECIFIED: _ClassVar[RolloutAction]
    GET: _ClassVar[RolloutAction]
    START: _ClassVar[RolloutAction]
    PAUSE: _ClassVar[RolloutAction]
    RESUME: _ClassVar[RolloutAction]
    ADVANCE: _ClassVar[RolloutAction]
    SET_WEIGHTS: _ClassVar[RolloutAction]
    ROLLBACK: _ClassVar[RolloutAction]
    PROMOTE: _ClassVar[RolloutAction]

class RolloutStrategy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STRATEGY_UNSPECIFIED: _ClassVar[RolloutStrategy]
    CANARY: _ClassVar[RolloutStrategy]
    AB_TEST: _ClassVar[RolloutStrategy]

class RolloutState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STATE_NONE: _ClassVar[RolloutState]
    RUNNING: _ClassVar[RolloutState]
    PAUSED: _ClassVar[RolloutState]
    ROLLED_BACK: _ClassVar[RolloutState]
    PROMOTED: _ClassVar[RolloutState]
    COMPLETED: _ClassVar[RolloutState]

class ABMetric(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AB_METRIC_UNSPECIFIED: _ClassVar[ABMetric]
    POSITIVE_RATE: _ClassVar[ABMetric]
    MEAN_SCORE: _ClassVar[ABMetric]
    ERROR_RATE: _ClassVar[ABMetric]
    LATENCY: _ClassVar[ABMetric]
VERSION_STATE_UNSPECIFIED: VersionState
NOT_LOADED: VersionState
LOADING: VersionState
READY: VersionState
FAILED: VersionState
RETIRED: VersionState
DRIFT_VERDICT_UNSPECIFIED: DriftVerdict
DRIFT_OK: DriftVerdict
DRIFT_WARN: DriftVerdict
DRIFT_DRIFT: DriftVerdict
ROLLOUT_ACTION_UNSPECIFIED: RolloutAction
GET: RolloutAction
START: RolloutAction
PAUSE: RolloutAction
RESUME: RolloutAction
ADVANCE: RolloutAction
SET_WEIGHTS: RolloutAction
ROLLBACK: RolloutAction
PROMOTE: RolloutAction
ROLLOUT_STRATEGY_UNSPECIFIED: RolloutStrategy
CANARY: RolloutStrategy
AB_TEST: RolloutStrategy
ROLLOUT_STATE_NONE: RolloutState
RUNNING: RolloutState
PAUSED: RolloutState
ROLLED_BACK: RolloutState
PROMOTED: RolloutState
COMPLETED: RolloutState
AB_METRIC_UNSPECIFIED: ABMetric
POSITIVE_RATE: ABMetric
MEAN_SCORE: ABMetric
ERROR_RATE: ABMetric
LATENCY: ABMetric

class FeatureValue(_message.Message):
    __slots__ = ("number", "text")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    number: float
    text: str
    def __init__(self, number: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("model", "version", "routing_key", "features", "dense", "request_id")
    class FeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: FeatureValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[FeatureValue, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROUTING_KEY_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    DENSE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    routing_key: str
    features: _containers.MessageMap[str, FeatureValue]
    dense: _containers.RepeatedScalarFieldContainer[float]
    request_id: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., routing_key: _Optional[str] = ..., features: _Optional[_Mapping[str, FeatureValue]] = ..., dense: _Optional[_Iterable[float]] = ..., request_id: _Optional[str] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("model", "version", "variant", "label_int", "label_string", "value", "scores", "confidence", "request_id")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    LABEL_INT_FIELD_NUMBER: _ClassVar[int]
    LABEL_STRING_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    variant: str
    label_int: int
    label_string: str
    value: float
    scores: _containers.RepeatedScalarFieldContainer[float]
    confidence: float
    request_id: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., variant: _Optional[str] = ..., label_int: _Optional[int] = ..., label_string: _Optional[str] = ..., value: _Optional[float] = ..., scores: _Optional[_Iterable[float]] = ..., confidence: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class Column(_message.Message):
    __slots__ = ("name", "values", "strings")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    STRINGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    values: _containers.RepeatedScalarFieldContainer[float]
    strings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., values: _Optional[_Iterable[float]] = ..., strings: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchPredictRequest(_message.Message):
    __slots__ = ("model", "version", "routing_key", "rows", "columns", "dense", "request_id")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROUTING_KEY_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    DENSE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    routing_key: str
    rows: int
    columns: _containers.RepeatedCompositeFieldContainer[Column]
    dense: _containers.RepeatedScalarFieldContainer[float]
    request_id: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., routing_key: _Optional[str] = ..., rows: _Optional[int] = ..., columns: _Optional[_Iterable[_Union[Column, _Mapping]]] = ..., dense: _Optional[_Iterable[float]] = ..., request_id: _Optional[str] = ...) -> None: ...

class BatchPredictResponse(_message.Message):
    __slots__ = ("model", "version", "variant", "rows", "labels_int", "labels_string", "scores", "num_classes", "values", "confidence", "request_id")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    LABELS_INT_FIELD_NUMBER: _ClassVar[int]
    LABELS_STRING_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    NUM_CLASSES_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    variant: str
    rows: int
    labels_int: _containers.RepeatedScalarFieldContainer[int]
    labels_string: _containers.RepeatedScalarFieldContainer[str]
    scores: _containers.RepeatedScalarFieldContainer[float]
    num_classes: int
    values: _containers.RepeatedScalarFieldContainer[float]
    confidence: _containers.RepeatedScalarFieldContainer[float]
    request_id: str
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., variant: _Optional[str] = ..., rows: _Optional[int] = ..., labels_int: _Optional[_Iterable[int]] = ..., labels_string: _Optional[_Iterable[str]] = ..., scores: _Optional[_Iterable[float]] = ..., num_classes: _Optional[int] = ..., values: _Optional[_Iterable[float]] = ..., confidence: _Optional[_Iterable[float]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetModelVersionRequest(_message.Message):
    __slots__ = ("model", "version", "list")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: str
    list: bool
    def __init__(self, model: _Optional[str] = ..., version: _Optional[str] = ..., list: bool = ...) -> None: ...

class TensorInfo(_message.Message):
    __slots__ = ("name", "element_type", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    element_type: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., element_type: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class FeatureInfo(_message.Message):
    __slots__ = ("name", "type")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class Signature(_message.Message):
    __slots__ = ("inputs", "outputs", "class_labels_int", "class_labels_string", "features", "task")
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    CLASS_LABELS_INT_FIELD_NUMBER: _ClassVar[int]
    CLASS_LABELS_STRING_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedCompositeFieldContainer[TensorInfo]
    outputs: _containers.RepeatedCompositeFieldContainer[TensorInfo]
    class_labels_int: _containers.RepeatedScalarFieldContainer[int]
    class_labels_string: _containers.RepeatedScalarFieldContainer[str]
    features: _containers.RepeatedCompositeFieldContainer[FeatureInfo]
    task: str
    def __init__(self, inputs: _Optional[_Iterable[_Union[TensorInfo, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[TensorInfo, _Mapping]]] = ..., class_labels_int: _Optional[_Iterable[int]] = ..., class_labels_string: _Optional[_Iterable[str]] = ..., features: _Optional[_Iterable[_Union[FeatureInfo, _Mapping]]] = ..., task: _Optional[str] = ...) -> None: ...

class ModelVersion(_message.Message):
    __slots__ = ("model", "version", "stage", "aliases", "state", "state_reason", "signature", "description", "tags", "metrics", "sha256", "created_unix_ms", "source", "traffic_share", "run_id", "is_fallback", "monitoring")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_SHARE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    IS_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    MONITORING_FIELD_NUMBER: _ClassVar[int]
    model: str
    version: int
    stage: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    state: VersionState
    state_reason: str
    signature: Signature
    description: str
    tags: _containers.ScalarMap[str, str]
    metrics: _containers.ScalarMap[str, float]
    sha256: str
    created_unix_ms: int
    source: str
    traffic_share: float
    run_id: str
    is_fallback: bool
    monitoring: MonitoringReport
    def __init__(self, model: _Optional[str] = ..., version: _Optional[int] = ..., stage: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[VersionState, str]] = ..., state_reason: _Optional[str] = ..., signature: _Optional[_Union[Signature, _Mapping]] = ..., description: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., sha256: _Optional[str] = ..., created_unix_ms: _Optional[int] = ..., source: _Optional[str] = ..., traffic_share: _Optional[float] = ..., run_id: _Optional[str] = ..., is_fallback: bool = ..., monitoring: _Optional[_Union[MonitoringReport, _Mapping]] = ...) -> None: ...

class FeatureDrift(_message.Message):
    __slots__ = ("name", "kind", "count", "psi", "ks_statistic", "ks_p_value", "chi_square", "chi_square_p_value", "missing_share", "unseen_share", "verdict")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PSI_FIELD_NUMBER: _ClassVar[int]
    KS_STATISTIC_FIELD_NUMBER: _ClassVar[int]
    KS_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    CHI_SQUARE_FIELD_NUMBER: _ClassVar[int]
    CHI_SQUARE_P_VALUE_FIELD_NUMBER: _ClassVar[int]
    MISSING_SHARE_FIELD_NUMBER: _ClassVar[int]
    UNSEEN_SHARE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    count: int
    psi: float
    ks_statistic: float
    ks_p_value: float
    chi_square: float
    chi_square_p_value: float
    missing_share: float
    unseen_share: float
    verdict: DriftVerdict
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., count: _Optional[int] = ..., psi: _Optional[float] = ..., ks_statistic: _Optional[float] = ..., ks_p_value: _Optional[float] = ..., chi_square: _Optional[float] = ..., chi_square_p_value: _Optional[float] = ..., missing_share: _Optional[float] = ..., unseen_share: _Optional[float] = ..., verdict: _Optional[_Union[DriftVerdict, str]] = ...) -> None: ...

class PredictionDrift(_message.Message):
    __slots__ = ("kind", "psi", "ks_statistic", "positive_rate", "reference_positive_rate", "positive_rate_shift", "class_shares", "verdict")
    KIND_FIELD_NUMBER: _ClassVar[int]
    PSI_FIELD_NUMBER: _ClassVar[int]
    KS_STATISTIC_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_RATE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_POSITIVE_RATE_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_RATE_SHIFT_FIELD_NUMBER: _ClassVar[int]
    CLASS_SHARES_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    psi: float
    ks_statistic: float
    positive_rate: float
    reference_positive_rate: float
    positive_rate_shift: float
    class_shares: _containers.RepeatedScalarFieldContainer[float]
    verdict: DriftVerdict
    def __init__(self, kind: _Optional[str] = ..., psi: _Optional[float] = ..., ks_statistic: _Optional[float] = ..., positive_rate: _Optional[float] = ..., reference_positive_rate: _Optional[float] = ..., positive_rate_shift: _Optional[float] = ..., class_shares: _Optional[_Iterable[float]] = ..., verdict: _Optional[_Union[DriftVerdict, str]] = ...) -> None: ...

class MonitoringReport(_message.Message):
    __slots__ = ("profiled", "window_requests", "window_limit_requests", "window_limit_seconds", "reference_rows", "psi_warn", "psi_drift", "verdict", "features", "prediction", "computed_unix_ms", "notes")
    PROFILED_FIELD_NUMBER: _ClassVar[int]
    WINDOW_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_LIMIT_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_LIMIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_ROWS_FIELD_NUMBER: _ClassVar[int]
    PSI_WARN_FIELD_NUMBER: _ClassVar[int]
    PSI_DRIFT_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    profiled: bool
    window_requests: int
    window_limit_requests: int
    window_limit_seconds: float
    reference_rows: int
    psi_warn: float
    psi_drift: float
    verdict: DriftVerdict
    features: _containers.RepeatedCompositeFieldContainer[FeatureDrift]
    prediction: PredictionDrift
    computed_unix_ms: int
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, profiled: bool = ..., window_requests: _Optional[int] = ..., window_limit_requests: _Optional[int] = ..., window_limit_seconds: _Optional[float] = ..., reference_rows: _Optional[int] = ..., psi_warn: _Optional[float] = ..., psi_drift: _Optional[float] = ..., verdict: _Optional[_Union[DriftVerdict, str]] = ..., features: _Optional[_Iterable[_Union[FeatureDrift, _Mapping]]] = ..., prediction: _Optional[_Union[PredictionDrift, _Mapping]] = ..., computed_unix_ms: _Optional[int] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class GetModelVersionResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[ModelVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[ModelVersion, _Mapping]]] = ...) -> None: ...

class CanaryStep(_message.Message):
    __slots__ = ("percent", "min_requests", "min_duration_ms")
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    MIN_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    MIN_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    percent: float
    min_requests: int
    min_duration_ms: int
    def __init__(self, percent: _Optional[float] = ..., min_requests: _Optional[int] = ..., min_duration_ms: _Optional[int] = ...) -> None: ...

class Guardrails(_message.Message):
    __slots__ = ("max_error_rate", "max_error_rate_increase", "max_p99_ms", "max_p99_ratio")
    MAX_ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    MAX_ERROR_RATE_INCREASE_FIELD_NUMBER: _ClassVar[int]
    MAX_P99_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_P99_RATIO_FIELD_NUMBER: _ClassVar[int]
    max_error_rate: float
    max_error_rate_increase: float
    max_p99_ms: float
    max_p99_ratio: float
    def __init__(self, max_error_rate: _Optional[float] = ..., max_error_rate_increase: _Optional[float] = ..., max_p99_ms: _Optional[float] = ..., max_p99_ratio: _Optional[float] = ...) -> None: ...

class Arm(_message.Message):
    __slots__ = ("name", "version", "weight")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    weight: float
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class RolloutRequest(_message.Message):
    __slots__ = ("model", "action", "strategy", "baseline", "candidate", "steps", "guardrails", "auto", "arms", "metric", "min_detectable_effect", "significance", "shadow", "weights", "archive_candidate", "promote_arm", "min_sample_requests")
    class WeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    GUARDRAILS_FIELD_NUMBER: _ClassVar[int]
    AUTO_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    MIN_DETECTABLE_EFFECT_FIELD_NUMBER: _ClassVar[int]
    SIGNIFICANCE_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_CANDIDATE_FIELD_NUMBER: _ClassVar[int]
    PROMOTE_ARM_FIELD_NUMBER: _ClassVar[int]
    MIN_SAMPLE_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    model: str
    action: RolloutAction
    strategy: RolloutStrategy
    baseline: str
    candidate: str
    steps: _containers.RepeatedCompositeFieldContainer[CanaryStep]
    guardrails: Guardrails
    auto: bool
    arms: _containers.RepeatedCompositeFieldContainer[Arm]
    metric: ABMetric
    min_detectable_effect: float
    significance: float
    shadow: str
    weights: _containers.ScalarMap[str, float]
    archive_candidate: bool
    promote_arm: str
    min_sample_requests: int
    def __init__(self, model: _Optional[str] = ..., action: _Optional[_Union[RolloutAction, str]] = ..., strategy: _Optional[_Union[RolloutStrategy, str]] = ..., baseline: _Optional[str] = ..., candidate: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[CanaryStep, _Mapping]]] = ..., guardrails: _Optional[_Union[Guardrails, _Mapping]] = ..., auto: bool = ..., arms: _Optional[_Iterable[_Union[Arm, _Mapping]]] = ..., metric: _Optional[_Union[ABMetric, str]] = ..., min_detectable_effect: _Optional[float] = ..., significance: _Optional[float] = ..., shadow: _Optional[str] = ..., weights: _Optional[_Mapping[str, float]] = ..., archive_candidate: bool = ..., promote_arm: _Optional[str] = ..., min_sample_requests: _Optional[int] = ...) -> None: ...

class LatencyStats(_message.Message):
    __slots__ = ("p50_ms", "p95_ms", "p99_ms")
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    def __init__(self, p50_ms: _Optional[float] = ..., p95_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ...) -> None: ...

class VariantStats(_message.Message):
    __slots__ = ("requests", "errors", "error_rate", "latency", "mean_confidence", "positive_rate", "mean_score")
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    MEAN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    POSITIVE_RATE_FIELD_NUMBER: _ClassVar[int]
    MEAN_SCORE_FIELD_NUMBER: _ClassVar[int]
    requests: int
    errors: int
    error_rate: float
    latency: LatencyStats
    mean_confidence: float
    positive_rate: float
    mean_score: float
    def __init__(self, requests: _Optional[int] = ..., errors: _Optional[int] = ..., error_rate: _Optional[float] = ..., latency: _Optional[_Union[LatencyStats, _Mapping]] = ..., mean_confidence: _Optional[float] = ..., positive_rate: _Optional[float] = ..., mean_score: _Optional[float] = ...) -> None: ...

class VariantStatus(_message.Message):
    __slots__ = ("name", "version", "weight", "step", "overall", "shadow", "agreement_rate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    AGREEMENT_RATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    weight: float
    step: VariantStats
    overall: VariantStats
    shadow: bool
    agreement_rate: float
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., weight: _Optional[float] = ..., step: _Optional[_Union[VariantStats, _Mapping]] = ..., overall: _Optional[_Union[VariantStats, _Mapping]] = ..., shadow: bool = ..., agreement_rate: _Optional[float] = ...) -> None: ...

class ABResult(_message.Message):
    __slots__ = ("metric", "p_value", "required_sample_size", "sample_size_reached", "significant", "required_sample_size_exact")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    P_VALUE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SAMPLE_SIZE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_SIZE_REACHED_FIELD_NUMBER: _ClassVar[int]
    SIGNIFICANT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_SAMPLE_SIZE_EXACT_FIELD_NUMBER: _ClassVar[int]
    metric: ABMetric
    p_value: float
    required_sample_size: int
    sample_size_reached: bool
    significant: bool
    required_sample_size_exact: float
    def __init__(self, metric: _Optional[_Union[ABMetric, str]] = ..., p_value: _Optional[float] = ..., required_sample_size: _Optional[int] = ..., sample_size_reached: bool = ..., significant: bool = ..., required_sample_size_exact: _Optional[float] = ...) -> None: ...

class Transition(_message.Message):
    __slots__ = ("unix_ms", "from_state", "to_state", "reason")
    UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    unix_ms: int
    from_state: str
    to_state: str
    reason: str
    def __init__(self, unix_ms: _Optional[int] = ..., from_state: _Optional[str] = ..., to_state: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RolloutResponse(_message.Message):
    __slots__ = ("model", "rollout_id", "state", "strategy", "variants", "step_index", "steps", "last_decision", "history", "ab", "auto", "generation", "replica_id", "replicas")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    STEP_INDEX_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    LAST_DECISION_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    AB_FIELD_NUMBER: _ClassVar[int]
    AUTO_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    model: str
    rollout_id: str
    state: RolloutState
    strategy: RolloutStrategy
    variants: _containers.RepeatedCompositeFieldContainer[VariantStatus]
    step_index: int
    steps: _containers.RepeatedCompositeFieldContainer[CanaryStep]
    last_decision: str
    history: _containers.RepeatedCompositeFieldContainer[Transition]
    ab: ABResult
    auto: bool
    generation: int
    replica_id: str
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaShare]
    def __init__(self, model: _Optional[str] = ..., rollout_id: _Optional[str] = ..., state: _Optional[_Union[RolloutState, str]] = ..., strategy: _Optional[_Union[RolloutStrategy, str]] = ..., variants: _Optional[_Iterable[_Union[VariantStatus, _Mapping]]] = ..., step_index: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[CanaryStep, _Mapping]]] = ..., last_decision: _Optional[str] = ..., history: _Optional[_Iterable[_Union[Transition, _Mapping]]] = ..., ab: _Optional[_Union[ABResult, _Mapping]] = ..., auto: bool = ..., generation: _Optional[int] = ..., replica_id: _Optional[str] = ..., replicas: _Optional[_Iterable[_Union[ReplicaShare, _Mapping]]] = ...) -> None: ...

class ReplicaShare(_message.Message):
    __slots__ = ("replica_id", "requests", "errors", "updated_unix_ms")
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    replica_id: str
    requests: _containers.RepeatedScalarFieldContainer[int]
    errors: _containers.RepeatedScalarFieldContainer[int]
    updated_unix_ms: int
    def __init__(self, replica_id: _Optional[str] = ..., requests: _Optional[_Iterable[int]] = ..., errors: _Optional[_Iterable[int]] = ..., updated_unix_ms: _Optional[int] = ...) -> None: ...
