"""
The house rules of docs/architecture.md, read from the code's own imports: apps import only apps in
lower layers, no module imports itself back through others (function-local imports count), every
domain app has the same rooms, and every task is named after the service it calls.

The checker parses the source (nothing is imported), so a rule broken in a module no test imports is
still caught. Its own tests feed it a small made-up project, so that it is known to fail when it should.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. An app may import its own modules and those of apps in lower layers; apps that share a
# layer are independent of one another.
LAYERS = [
    {"common"},
    {"audit"},
    {"accounts"},
    # Below content: the media library's images pass the sample uploads' own sniffing and virus scan.
    {"uploads"},
    {"content"},
    {"impact", "submissions"},
    {"compliance"},
    {"ops"},
    {"config"},
]
APPS = set().union(*LAYERS)
DOMAIN_APPS = ["accounts", "content", "impact", "submissions", "uploads"]
# Every domain app has these. `tasks` only where there is background work: impact has none of its own
# (its public pages are warmed by common.tasks.public_cache_warm, its images made by content's task).
ROOMS = ["models.py", "services.py", "selectors.py", "admin.py", "api/urls.py", "api/views.py", "tests"]
WITHOUT_TASKS = {"impact"}


def _is_source(path: Path) -> bool:
    parts = path.parts
    return (
        parts[0] in APPS and not ({"tests", "migrations"} & set(parts)) and parts[:2] != ("common", "testing")
    )


def _module_name(path: Path) -> str:
    name = ".".join(path.with_suffix("").parts)
    return name.removesuffix(".__init__")


def _imported(node, module: str, is_package: bool, modules: set[str]) -> list[str]:
    """The project modules one import statement names (for `from x import y`, x.y when it is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = module if is_package else module.rpartition(".")[0]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module
    found = [f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in modules]
    return found or [target]


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """{module: {project modules it imports}} from {module: (source, is_package)}, local imports included."""
    modules = set(sources)
    graph = {}
    for module, (source, is_package) in sources.items():
        edges = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _imported(node, module, is_package, modules):
                    # `import a.b.c` names a module or a package; keep the longest known prefix.
                    while target and target not in modules:
                        target = target.rpartition(".")[0]
                    if target and target != module:
                        edges.add(target)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer_breaks(graph: dict[str, set[str]], layers: list[set[str]]) -> list[str]:
    level = {app: number for number, apps in enumerate(layers) for app in apps}
    breaks = []
    for module, targets in sorted(graph.items()):
        app = module.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other != app and level[other] >= level[app]:
                breaks.append(f"{module} imports {target} ({other} is not below {app})")
    return breaks


def project_sources(root: Path = ROOT) -> dict[str, tuple[str, bool]]:
    sources = {}
    for path in sorted(root.glob("**/*.py")):
        relative = path.relative_to(root)
        if _is_source(relative):
            sources[_module_name(relative)] = (path.read_text(), path.name == "__init__.py")
    return sources


@pytest.fixture(scope="module")
def graph():
    return import_graph(project_sources())


def test_no_module_imports_itself_back(graph):
    assert cycles(graph) == []


def test_apps_import_only_lower_layers(graph):
    assert layer_breaks(graph, LAYERS) == []


def test_every_app_has_a_layer():
    apps = {path.parent.name for path in ROOT.glob("*/apps.py")} | {"config"}
    assert apps == APPS


def test_every_domain_app_has_the_same_rooms():
    missing = [
        f"{app}/{room}"
        for app in DOMAIN_APPS
        for room in [*ROOMS, *([] if app in WITHOUT_TASKS else ["tasks.py"])]
        if not (ROOT / app / room).exists()
    ]
    assert missing == []


def _tasks(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
            "shared_task" in ast.unparse(decorator) for decorator in node.decorator_list
        ):
            yield node


def test_every_task_is_named_after_the_service_it_calls():
    """`uploads.tasks.upload_process` calls a function `upload_process` of its own app, and so on."""
    misnamed = []
    for tasks_file in sorted(ROOT.glob("*/tasks.py")):
        app = tasks_file.parent
        defined = set()
        for path in app.glob("**/*.py"):
            if path != tasks_file and _is_source(path.relative_to(ROOT)):
                tree = ast.parse(path.read_text())
                defined |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        tree = ast.parse(tasks_file.read_text())
        # `from .selectors import audit_chain_verify as verify`: `verify` in a body is that function.
        aliases = {a.asname: a.name for a in ast.walk(tree) if isinstance(a, ast.alias) and a.asname}
        for task in _tasks(tree):
            used = {n.attr for n in ast.walk(task) if isinstance(n, ast.Attribute)}
            used |= {aliases.get(n.id, n.id) for n in ast.walk(task) if isinstance(n, ast.Name)}
            if task.name not in defined or task.name not in used:
                misnamed.append(f"{app.name}.tasks.{task.name}")
    assert misnamed == []


# The checker itself, on a made-up project: it must see what it is there to see.


def _graph(**modules):
    return import_graph({name.replace("__", "."): (source, False) for name, source in modules.items()})


def test_the_checker_sees_a_cycle_through_a_function_local_import():
    graph = _graph(
        shop__services="from shop import tasks\n",
        shop__tasks="def run():\n    from .services import go\n",
        shop__models="",
    )
    assert cycles(graph) == [["shop.services", "shop.tasks"]]


def test_the_checker_sees_an_import_up_a_layer_and_between_siblings():
    graph = _graph(
        low__util="import high.views\n",
        high__views="from low import util\nfrom peer.models import Thing\n",
        peer__models="",
    )
    assert layer_breaks(graph, [{"low"}, {"high", "peer"}]) == [
        "high.views imports peer.models (peer is not below high)",
        "low.util imports high.views (high is not below low)",
    ]
