"""The category tree: unlimited depth, ordered siblings, a unique slug each.

A category's `path` is "/<ancestor ids>/<own id>/" and `depth` its number of ancestors, so
a subtree is one prefix match on an indexed column, and moving a subtree is one UPDATE
that swaps the prefix, whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Select, delete, func, literal, select, update

from app.blueprints.catalog import validation
from app.blueprints.catalog.models import PATH_SEPARATOR, Category, Product, ProductCategory
from app.blueprints.catalog.validation import FieldErrors
from app.core import audit, events
from app.core.errors import Conflict, NotFound
from app.extensions import db

MAX_NAME = 120
MAX_SLUG = 140
UNSET = object()  # "leave as it is" for update_category's keyword arguments


@dataclass
class CategoryNode:
    category: Category
    children: list[CategoryNode] = field(default_factory=list)


def get_category(category_id: int) -> Category:
    category = db.session.get(Category, category_id) if 0 < category_id < 2**31 else None
    if category is None:
        raise NotFound("No such category.")
    return category


def get_category_by_slug(slug: str) -> Category:
    category = db.session.scalar(select(Category).where(Category.slug == slug))
    if category is None:
        raise NotFound("No such category.")
    return category


def descendant_ids(category: Category) -> Select:
    """The ids of the category's subtree, itself included (by path prefix)."""
    return select(Category.id).where(Category.path.startswith(category.path))


def category_tree(include_inactive: bool = True) -> list[CategoryNode]:
    """The whole tree in one query, siblings by position. Without inactive categories,
    their subtrees are left out too (a hidden parent hides its children)."""
    categories = db.session.scalars(select(Category).order_by(Category.depth, Category.position, Category.id))
    nodes: dict[int, CategoryNode] = {}
    roots: list[CategoryNode] = []
    for category in categories:
        if not include_inactive and not category.is_active:
            continue
        node = CategoryNode(category)
        if category.parent_id is None:
            roots.append(node)
        elif category.parent_id in nodes:
            nodes[category.parent_id].children.append(node)
        else:
            continue  # under a hidden parent
        nodes[category.id] = node
    return roots


def _parent(parent_id, errors: FieldErrors) -> Category | None:
    if parent_id is None:
        return None
    parent = (
        db.session.get(Category, parent_id) if isinstance(parent_id, int) and 0 < parent_id < 2**31 else None
    )
    if parent is None:
        errors.add("parent_id", "No such category.")
    return parent


def _slug(raw: str | None, name: str, errors: FieldErrors, exclude_id: int | None = None) -> str:
    if not (raw or "").strip():
        return validation.unique_slug(
            Category, validation.slugify(name, MAX_SLUG - 10), exclude_id=exclude_id, fallback="category"
        )
    slug = validation.slug_format(raw, "slug", errors, max_length=MAX_SLUG)
    if "slug" not in errors.errors and validation.slug_taken(Category, slug, exclude_id=exclude_id):
        errors.add("slug", "Another category has this slug.")
    return slug


def _under(parent_id: int | None):
    """Siblings' condition: children of `parent_id`, or the top level for None."""
    return Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id


def _next_position(parent_id: int | None) -> int:
    last = db.session.scalar(select(func.max(Category.position)).where(_under(parent_id)))
    return 0 if last is None else last + 1


def _changed(category: Category) -> None:
    events.emit("catalog.category_changed", category_id=category.id)


def create_category(
    *,
    actor,
    name: str,
    parent_id: int | None = None,
    slug: str | None = None,
    description: str = "",
    is_active: bool = True,
) -> Category:
    """A category appended last among its siblings; the slug comes from the name when
    none is given (made unique), a given slug must be free."""
    errors = FieldErrors()
    name = validation.text(name, "name", errors, max_length=MAX_NAME, required=True)
    description = validation.text(description, "description", errors, max_length=20_000)
    parent = _parent(parent_id, errors)
    slug = _slug(slug, name, errors)
    errors.raise_if_any()
    category = Category(
        name=name,
        slug=slug,
        description=description,
        is_active=bool(is_active),
        parent_id=parent.id if parent else None,
        position=_next_position(parent.id if parent else None),
        path="",
        depth=parent.depth + 1 if parent else 0,
    )
    db.session.add(category)
    db.session.flush()  # the id is part of the path
    category.path = f"{parent.path if parent else PATH_SEPARATOR}{category.id}{PATH_SEPARATOR}"
    db.session.flush()
    audit.record("catalog.category.created", actor=actor, target=category, summary=f"Created category {name}")
    _changed(category)
    return category


def update_category(
    category: Category, *, actor, name=UNSET, slug=UNSET, description=UNSET, is_active=UNSET
) -> Category:
    """Change the given fields; an empty slug is generated again from the name."""
    errors = FieldErrors()
    before = audit.snapshot(category, ["name", "slug", "description", "is_active"])
    if name is not UNSET:
        name = validation.text(name, "name", errors, max_length=MAX_NAME, required=True)
    if description is not UNSET:
        description = validation.text(description, "description", errors, max_length=20_000)
    if slug is not UNSET:
        base_name = name if name is not UNSET else category.name
        slug = _slug(slug, base_name, errors, exclude_id=category.id)
    errors.raise_if_any()
    for attribute, value in (("name", name), ("slug", slug), ("description", description)):
        if value is not UNSET:
            setattr(category, attribute, value)
    if is_active is not UNSET:
        category.is_active = bool(is_active)
    db.session.flush()
    entry = audit.record_change(
        "catalog.category.updated",
        actor=actor,
        target=category,
        before=before,
        after=audit.snapshot(category, before),
        summary=f"Updated category {category.name}",
    )
    if entry is not None:
        _changed(category)
    return category


def move_category(category: Category, *, actor, parent_id: int | None, position: int) -> Category:
    """Put the category (with its subtree) under `parent_id` (None: top level) at
    `position` among its new siblings. Moving it under itself or a descendant is refused.
    Paths and depths of the whole subtree change in one UPDATE."""
    errors = FieldErrors()
    parent = _parent(parent_id, errors)
    if parent is not None and parent.path.startswith(category.path):
        errors.add("parent_id", "A category cannot move under itself or one of its descendants.")
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        errors.add("position", "Must be 0 or more.")
    errors.raise_if_any()
    old_parent_id, old_position, old_path = category.parent_id, category.position, category.path
    new_parent_id = parent.id if parent else None
    new_path = f"{parent.path if parent else PATH_SEPARATOR}{category.id}{PATH_SEPARATOR}"
    depth_change = (parent.depth + 1 if parent else 0) - category.depth
    db.session.flush()
    siblings = db.session.scalar(
        select(func.count()).select_from(Category).where(_under(new_parent_id), Category.id != category.id)
    )
    position = min(position, siblings)
    no_sync = {"synchronize_session": False}
    # Close the gap it leaves, open one where it lands.
    db.session.execute(
        update(Category)
        .where(_under(old_parent_id), Category.position > old_position)
        .values(position=Category.position - 1),
        execution_options=no_sync,
    )
    db.session.execute(
        update(Category)
        .where(_under(new_parent_id), Category.position >= position, Category.id != category.id)
        .values(position=Category.position + 1),
        execution_options=no_sync,
    )
    db.session.execute(
        update(Category).where(Category.id == category.id).values(parent_id=new_parent_id, position=position),
        execution_options=no_sync,
    )
    if new_path != old_path:
        db.session.execute(
            update(Category)
            .where(Category.path.startswith(old_path))
            .values(
                path=literal(new_path) + func.substr(Category.path, len(old_path) + 1),
                depth=Category.depth + depth_change,
            ),
            execution_options=no_sync,
        )
    for loaded in [obj for obj in db.session.identity_map.values() if isinstance(obj, Category)]:
        db.session.expire(loaded)
    audit.record(
        "catalog.category.moved",
        actor=actor,
        target=category,
        summary=f"Moved category {category.name}",
        changes={"parent_id": [old_parent_id, new_parent_id], "path": [old_path, new_path]},
    )
    _changed(category)
    return category


def delete_category(category: Category, *, actor) -> None:
    """Delete a category without children (Conflict otherwise); its product links go."""
    has_children = db.session.scalar(select(Category.id).where(Category.parent_id == category.id).limit(1))
    if has_children is not None:
        raise Conflict(
            "The category has sub-categories: move or delete them first.", code="category_has_children"
        )
    category_id, name, parent_id, position = category.id, category.name, category.parent_id, category.position
    db.session.execute(
        delete(ProductCategory).where(ProductCategory.category_id == category_id),
        execution_options={"synchronize_session": False},
    )
    # Loaded products must not keep (and re-insert) the links the DELETE removed.
    for loaded in list(db.session.identity_map.values()):
        if (
            isinstance(loaded, Product)
            and "category_links" in loaded.__dict__
            and any(link.category_id == category_id for link in loaded.category_links)
        ):
            db.session.expire(loaded, ["category_links"])
    for link in [obj for obj in db.session.identity_map.values() if isinstance(obj, ProductCategory)]:
        if link.category_id == category_id:
            db.session.expunge(link)
    db.session.delete(category)
    db.session.flush()
    db.session.execute(
        update(Category)
        .where(_under(parent_id), Category.position > position)
        .values(position=Category.position - 1),
        execution_options={"synchronize_session": False},
    )
    for loaded in [obj for obj in db.session.identity_map.values() if isinstance(obj, Category)]:
        db.session.expire(loaded)
    audit.record(
        "catalog.category.deleted",
        actor=actor,
        target_type="Category",
        target_id=category_id,
        summary=f"Deleted category {name}",
    )
    events.emit("catalog.category_changed", category_id=category_id)
