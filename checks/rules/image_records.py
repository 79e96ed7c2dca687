"""The image facts records themselves (PRJ-IMAGES): present, well-formed, and used.

The image-aware rules look each service's image up by its exact reference in
``infra/image-facts/``. These rules keep that catalogue honest: every image has a
record, every record parses and cites its sources, and no record is left over.
"""

from __future__ import annotations

from collections.abc import Iterator

from checks.explain_examples import example_with_facts
from checks.finding import Hit, Severity
from checks.rule import rule
from checks.service_images import image_name
from checks.stack import Stack


@rule(
    "IMG-001",
    requirement="PRJ-IMAGES",
    severity=Severity.HIGH,
    title="every image has a facts record for its exact reference",
    hint="review the image at this tag and add infra/image-facts/<image>.yml (see its README)",
    example=example_with_facts(
        """
        services:
          app: {image: "example/app:1.1"}
        """,
    ),
    fixed=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0"}
        """,
    ),
)
def facts_record_present(stack: Stack) -> Iterator[Hit]:
    """Each service's image reference has a record in ``infra/image-facts/``.

    Records are looked up by the exact reference, so bumping a tag without
    reviewing the new image is a finding: the message names the tag that was
    reviewed. Applies only to a project that keeps at least one record in
    ``infra/image-facts/``, so projects without facts are not flooded. A record
    that exists but is malformed is reported by IMG-002 instead.
    """
    images = stack.facts.images
    if not images.active:
        return
    for name, spec in stack.services.items():
        image = image_name(spec)
        if not image or images.get(image) is not None or image in images.broken:
            continue
        earlier = images.repository_records(image)
        why = f" (reviewed: {', '.join(earlier)}; the tag changed)" if earlier else ""
        yield Hit(name, f"image {image} has no facts record{why}", subject=image)


@rule(
    "IMG-002",
    requirement="PRJ-IMAGES",
    severity=Severity.HIGH,
    title="facts records are well-formed and cite their sources",
    hint="follow the schema in infra/image-facts/README.md; every fact names a source",
    example=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0"}
        """,
        without=("sources",),
    ),
    fixed=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0"}
        """,
    ),
)
def facts_records_valid(stack: Stack) -> Iterator[Hit]:
    """Every record parses, has the required keys (``image``, ``reviewed``, ``sources``,
    ``shell``, ``tools``, ``user``, ``entrypoint``, ``file_capabilities``,
    ``file_env``, ``writable_paths``), and every fact's ``source`` is a key of
    ``sources:`` or a URL, each source being a URL or ``owner/repo@tag:path``.
    One image is recorded once. A malformed record is ignored by the other image
    rules until it is fixed. Symlinked records are refused, not followed.
    """
    for problem in stack.facts.images.problems:
        # The message is part of the subject: one file can have several problems.
        yield Hit(
            "",
            f"{problem.file}: {problem.message}",
            subject=f"{problem.file}: {problem.message}",
            source=problem.file,
        )


@rule(
    "IMG-003",
    requirement="PRJ-IMAGES",
    severity=Severity.LOW,
    title="no facts record for an image nothing runs",
    hint="delete the record, or pin the service back to the reviewed reference",
    example=example_with_facts(
        """
        services:
          app: {image: "example/app:1.1"}
        """,
    ),
    fixed=example_with_facts(
        """
        services:
          app: {image: "example/app:1.0"}
        """,
    ),
)
def stale_facts_records(stack: Stack) -> Iterator[Hit]:
    """A record whose image no service uses is left over from a tag bump. Judged only
    on the model with every profile enabled."""
    if not stack.complete:
        return
    used = {image_name(spec) for spec in stack.services.values()}
    for image, facts in sorted(stack.facts.images.records.items()):
        if image not in used:
            yield Hit(
                "", f"{facts.file} records {image}, which no service runs", image, source=facts.file
            )
