"""The vision stages built from the config: frame -> items -> vectors."""
from __future__ import annotations

from .config import Config
from .detector import Detector, DetectorParams
from .embed import Embedder
from .index import IndexParams
from .items import FrameItems, ItemFinder
from .pose import PoseEstimator, PoseParams
from .runtime import ModelStore


class Vision:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.models = ModelStore(cfg.models_dir, cfg.device, cfg.precision)
        d = cfg.detector
        self.detector = Detector(self.models.compiled("detector"), self.models.info("detector").entry["labels"],
                                 DetectorParams(d.person_threshold, d.footwear_threshold, d.nms_iou,
                                                d.rerun_on_person, d.max_people))
        pose_params = PoseParams(cfg.pose.min_person, cfg.pose.min_visibility, cfg.pose.mask_threshold)
        self.pose = PoseEstimator(self.models.compiled("pose"), pose_params)
        self.finder = ItemFinder(self.detector, self.pose, pose_params, d.footwear_alone_threshold)
        self.embedder = Embedder(self.models.compiled("embedder"), self.models.info("embedder").version,
                                 cfg.embedding.color_weight)

    @property
    def model_version(self) -> str:
        return self.embedder.version

    def find_items(self, bgr) -> FrameItems:
        return self.finder(bgr)


def model_version(cfg: Config) -> str:
    """The vector version this config's models produce, without loading them."""
    from .embed import embedder_version
    return embedder_version(ModelStore(cfg.models_dir).info("embedder").version, cfg.embedding.color_weight)


def index_params(cfg: Config) -> IndexParams:
    return IndexParams(cfg.index.exact_up_to, cfg.index.ivf_lists, cfg.index.ivf_probe)
