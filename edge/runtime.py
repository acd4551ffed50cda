"""The one place that assembles the product from the config: catalogue, models, compatibility,
find similar, complete the look, the recognizer and the live pipeline.

The CLI, the kiosk, the sync service, the bench and the tests all start here, so each part is
built the same way everywhere. Everything is made on first use: `signage catalog stats` opens
no model, `signage detect` no catalogue.

    rt = Runtime(load_config())
    rt.similar(bgr)                                      # find similar on a photo
    rt.pipeline("demo/demo.avi", on_result=print).start()   # the kiosk's threads, no window
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Callable

from .catalog.store import Catalog
from .config import Config
from .live.capture import Frame, open_source
from .live.pipeline import KioskPipeline, SourceStatus
from .live.recognizer import FrameResult, Recognizer
from .styling.pairs import TextCompat, load_text_compat
from .errors import SignageError
from .styling.looks import Anchor, CompleteTheLook
from .styling.similar import FindSimilar
from .styling.tagging import Tagger
from .vision.stages import Vision, model_version


class Runtime:
    def __init__(self, cfg: Config):
        self.cfg = cfg
        self._catalog: Catalog | None = None

    # ---- parts -------------------------------------------------------------------------------
    @cached_property
    def vision(self) -> Vision:
        return Vision(self.cfg)

    @property
    def model_version(self) -> str:
        """The vector version the models produce (read from the manifest: loads no model)."""
        return self.vision.model_version if "vision" in self.__dict__ else model_version(self.cfg)

    def open_catalog(self, create: bool = False, reader: bool = False) -> Catalog:
        """The store's catalogue; reader=True for the kiosk and watch (read-only while sync writes)."""
        if self._catalog is None:
            self._catalog = Catalog(self.cfg.catalog_dir, self.cfg.index, create=create, reader=reader)
        return self._catalog

    @property
    def catalog(self) -> Catalog:
        return self.open_catalog()

    def import_catalog(self, path: Path, catalog: Catalog | None = None, **options):
        """A catalogue CSV into this store's catalogue (or `catalog`: head office's), under the
        config's colour rule; the catalogue is made only once the CSV has been read."""
        from .catalog.importer import import_catalog
        return import_catalog(path, catalog or (lambda: self.open_catalog(create=True)), self.vision,
                              own_colours=self.cfg.colour_words == "own", **options)

    @cached_property
    def compat(self) -> TextCompat:
        """Outfit compatibility: the pair model over sentence vectors of names (PMI words explain)."""
        from .vision.models import ModelStore
        return load_text_compat(self.cfg.models_dir, ModelStore.of(self.cfg))

    def catalogue_tagger(self, progress=None):
        """The back office's tagger: the catalogue's own tag columns, learned from its products
        (photos and names) when it is made."""
        from .styling.backoffice import CatalogueTagger
        from .styling.text import text_embedder
        from .vision.models import ModelStore
        return CatalogueTagger(self.catalog, self.vision, text_embedder(ModelStore.of(self.cfg)), progress)

    def compile_models(self) -> list[str]:
        """Compile every model this config runs (the live ones, ISNet's cuts for catalogue import,
        the text model for looks), kept in `model_cache`: the install does it, so the kiosk's
        first start loads them instead of compiling. The names compiled."""
        v = self.vision
        names = ["detector", "pose", "embedder"]
        if v.cutout is not None:
            names.append(f"cutout {self.cfg.cutout.size} px")
        if v.first_cut is not None:
            names.append(f"cutout {self.cfg.cutout.first_size} px")
        self.compat
        return names + ["text"]

    def verify_models(self, compile: bool = False) -> tuple[list, dict | None]:
        """Every model file against the manifest (and the INT8 copies it lists): their ModelInfos;
        with `compile`, also compile_models(): what was compiled, how long, kept where."""
        import time

        from .vision.models import QUANTIZED, ModelStore
        store = ModelStore(self.cfg.models_dir)
        infos = [store.verify(name) for name in store.manifest["models"]]
        infos += [store.verify(n, int8=True) for n in QUANTIZED if "int8" in store.manifest["models"].get(n, {})]
        if not compile:
            return infos, None
        t = time.perf_counter()
        names = self.compile_models()
        return infos, {"models": names, "seconds": round(time.perf_counter() - t, 1),
                       "model_cache": str(self.cfg.model_cache) if self.cfg.model_cache else None}

    @cached_property
    def similar(self) -> FindSimilar:
        return FindSimilar(self.vision, self.catalog)

    @cached_property
    def looks(self) -> CompleteTheLook:
        return CompleteTheLook(self.catalog, self.compat)

    def anchor(self, bgr=None, sku: str | None = None, image_name: str = "") -> Anchor:
        """What complete the look starts from: a catalogue product by sku, or the first item of a
        photo as find similar reads it."""
        self.open_catalog()
        if sku:
            anchor = self.looks.anchor_for_sku(sku)
            if anchor is None:
                raise SignageError(f"sku {sku!r} is not in the catalogue {self.cfg.catalog_dir}")
            return anchor
        found = self.similar(bgr, k=3)
        if not found:
            raise SignageError(f"{image_name}: no garment or shoe found")
        return Anchor.from_matches(found[0])

    def tagger(self, catalogue_named: bool = False) -> Tagger:
        """Tags by the catalogue's vote, or by what the detector saw when there is no catalogue;
        catalogue_named (--catalog given): a missing catalogue is the error it is."""
        from .errors import CatalogMissing
        try:
            similar = self.similar
        except CatalogMissing:
            if catalogue_named:
                raise
            similar = None
        return Tagger(self.vision, similar)

    # ---- the live path -----------------------------------------------------------------------
    def recognizer(self) -> Recognizer:
        k = self.cfg.kiosk
        return Recognizer(self.similar, self.looks, k=k.suggestions, stable_frames=k.stable_frames)

    def pipeline(self, source: str | None = None, on_frame: Callable[[Frame], None] = lambda f: None,
                 on_result: Callable[[FrameResult], None] = lambda r: None,
                 on_status: Callable[[SourceStatus], None] = lambda s: None,
                 loop: bool | None = None, pace: bool = True) -> KioskPipeline:
        """The kiosk's capture and inference threads on `source` (default: kiosk.source), with
        plain callbacks called from those threads: they must only hand values over."""
        source = source or self.cfg.kiosk.source
        loop = self.cfg.kiosk.loop if loop is None else loop
        recognizer = self.recognizer()
        self.catalog.index(self.vision.model_version)   # load (or rebuild) the index before the first shopper
        return KioskPipeline(lambda: open_source(source, loop=loop), recognizer, on_frame=on_frame,
                             on_result=on_result, on_status=on_status, pace=pace)
