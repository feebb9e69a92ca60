"""Downstream evaluation (Section 4.2): freeze the encoder, retrain the decoder to output the task's
3-channel mask from the embedding, and report its IoU divided by the teacher's IoU.

"Reinterpreting/retraining the decoder" is read two ways, both offered: a re-initialised decoder of the same
topology ('fresh', the default: Section 5 says the experiments may underestimate what the autoencoder as a
whole absorbed, as they would if the trained decoder's knowledge were not used downstream) or the
transferred decoder itself, retrained ('finetune')."""

from __future__ import annotations

import torch

from mike.data.tri_class import TriClassData
from mike.losses import segmentation_loss
from mike.metrics import normalised_iou
from mike.models.autoencoder import Autoencoder, Decoder
from mike.models.folding import folded_for_inference
from mike.training.loop import (
    StepCallback,
    TrainSpec,
    compiled,
    fit,
    prepare,
    resident_masks,
    to_float_images,
)
from mike.training.specs import DEFAULT_EXECUTION, ExecutionSpec
from mike.training.teacher import evaluate_segmenter


def embed(
    encoder: torch.nn.Module, images: torch.Tensor, batch_size: int = 256, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Embeddings of uint8 images by a frozen encoder, computed once (not once per epoch)."""
    return embed_sets(encoder, [images], batch_size, device)[0]


@torch.no_grad()
def embed_sets(
    encoder: torch.nn.Module,
    image_sets: list[torch.Tensor],
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> list[torch.Tensor]:
    """The embeddings of each set of uint8 images (a task's train and test split), the encoder folded once."""
    if not image_sets:
        return []  # nothing to embed: no fold
    device = torch.device(device)
    inference = folded_for_inference(prepare(encoder, device).eval())  # BatchNorm folded: fewer passes
    return [
        torch.cat(
            [
                inference(to_float_images(images[s : s + batch_size], device)).cpu()
                for s in range(0, images.shape[0], batch_size)
            ]
        )
        for images in image_sets
    ]


def train_decoder(
    decoder: Decoder,
    embeddings: torch.Tensor,
    masks: torch.Tensor,
    spec: TrainSpec,
    seed: int,
    on_step: StepCallback | None = None,
    device: str | torch.device = "cpu",
    execution: ExecutionSpec = DEFAULT_EXECUTION,
) -> Decoder:
    device = torch.device(device)
    prepare(decoder, device)
    segment = compiled(decoder, execution)
    embeddings, masks = embeddings.to(device), resident_masks(masks, device)  # resident on the device

    def step_loss(step, idx):
        return segmentation_loss(segment(embeddings[idx]), masks[idx].float()), {}

    return fit(decoder, step_loss, embeddings.shape[0], spec, seed, on_step, execution=execution)


def downstream_iou(
    autoencoder: Autoencoder,
    train: TriClassData,
    test: TriClassData,
    spec: TrainSpec,
    seed: int,
    teacher_iou: float,
    device: str | torch.device = "cpu",
    on_step: StepCallback | None = None,
    decoder_mode: str = "fresh",
) -> dict[str, float]:
    """Evaluate one frozen encoder on one task: {'iou', 'teacher_iou', 'normalised_iou'}."""
    torch.manual_seed(seed)  # the fresh decoder's initialisation
    decoder = autoencoder.downstream_decoder(decoder_mode, out_channels=train.masks.shape[1])
    z_train, z_test = embed_sets(autoencoder.encoder, [train.images, test.images], device=device)
    train_decoder(decoder, z_train, train.masks, spec, seed, on_step, device)
    value = evaluate_segmenter(decoder, z_test, test.masks, device=device)
    return {"iou": value, "teacher_iou": teacher_iou, "normalised_iou": normalised_iou(value, teacher_iou)}
