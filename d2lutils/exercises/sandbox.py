"""Running one submission's code in a sandbox of its own (bubblewrap), with limits.

The grader never runs a student's code in its own process. Each submission runs under ``bwrap``
(bubblewrap, Debian's package, the sandbox Flatpak uses) in a new mount, PID, network, IPC and UTS
namespace:

- the file system holds only what the code needs, read-only: the system's ``/usr``, ``/lib``,
  ``/etc``, the Python installation and the virtual environment, and the package (or the view of it
  the grader gives, ``package=``); plus one private writable folder (``work``, which holds the
  private copy of the one notebook) and a private ``/tmp``. The repository, the other submissions,
  the teacher's copies and the results file are not there at all;
- no network (a new network namespace has only a loopback device);
- its own PID namespace: it cannot see, signal or read ``/proc`` of any process outside it; with
  ``--die-with-parent`` and ``--new-session`` every process it started ends when its first process
  ends or is killed, detached or not (the PID namespace's init takes them down with it);
- limits (``setrlimit``): address space per process, number of processes, size of any file it
  writes (its output file included, which caps the output); a private ``/tmp`` of at most 256 MiB;
  and a wall-clock limit, after which the whole process group is killed. The number of files it
  writes in ``work`` is not limited: ``work`` lives in the grader's ``TMPDIR``, which a teacher
  can point at a filesystem of limited size.

The number of processes (``RLIMIT_NPROC``) counts per user, and root is exempt from it. So the
grader, when it runs as root, lets bwrap set up the namespaces as root and then runs the code as
the unprivileged user ``nobody`` (``setpriv``), who owns nothing the grader needs; as another user,
bwrap runs unprivileged in a user namespace and the limit is that user's current tasks (every thread
counts) plus ``processes``.

otter-grader and Gradescope run each submission in a container for the same reasons; bwrap gives
the same separation without a container daemon. ``available()`` says whether it works here.
"""
import dataclasses
import functools
import os
import pathlib
import resource
import shutil
import signal
import subprocess
import sys
import time

NOBODY = 65534
GiB = 1024 ** 3
TMP_BYTES = 256 * 1024 ** 2  # the private /tmp is memory


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one submission may use."""
    wall_seconds: float = 600
    memory_bytes: int = 8 * GiB      # address space of each process (MXNet maps ~2 GiB at start)
    processes: int = 256             # the kernel, its threads count too
    file_bytes: int = 64 * 1024 ** 2  # any one file it writes, its output included
    open_files: int = 1024


@dataclasses.dataclass
class Outcome:
    returncode: int
    output: str          # stdout and stderr together, at most the first file_bytes
    timed_out: bool
    seconds: float


def bwrap():
    """The bwrap executable, or None."""
    return shutil.which('bwrap')


def available():
    """'' when a sandbox can be made here, else why not (what to install or allow)."""
    exe = bwrap()
    if exe is None:
        return ('bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap; '
                'Fedora: dnf install bubblewrap)')
    if os.geteuid() == 0 and shutil.which('setpriv') is None:
        return 'setpriv (util-linux) is missing: as root the grader needs it to drop to nobody'
    probe = subprocess.run(_bwrap_command(['true'], readonly=[], work=None), capture_output=True,
                           text=True, timeout=60)
    if probe.returncode != 0:
        return ('bwrap is installed but cannot make a sandbox here: '
                + (probe.stderr.strip().splitlines() or ['no message'])[-1]
                + ' (unprivileged user namespaces may be off: sysctl kernel.unprivileged_userns_clone=1)')
    return ''


def _system_paths():
    """Read-only paths every Python program needs: the system, and this Python installation."""
    paths = ['/usr', '/etc', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']
    for prefix in {sys.base_prefix, sys.prefix, os.path.realpath(sys.base_prefix)}:
        if not any(prefix == p or prefix.startswith(p + '/') for p in paths):
            paths.append(prefix)
    return [p for p in paths if os.path.exists(p)]


def _bwrap_command(command, readonly, work, binds=()):
    """bwrap's arguments for ``command``: ``readonly`` paths bound read-only at the same place,
    ``binds`` (source, target) read-only, ``work`` bound writable, and the namespaces."""
    args = [bwrap(), '--die-with-parent', '--new-session', '--unshare-pid', '--unshare-net',
            '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try']
    as_root = os.geteuid() == 0
    if not as_root:
        args.append('--unshare-user')
    args += ['--proc', '/proc', '--dev', '/dev', '--perms', '1777', *_tmp_size(), '--tmpfs', '/tmp']
    mounts = [('--ro-bind', p, p) for p in dict.fromkeys(map(str, _system_paths() + list(readonly)))]
    mounts += [('--ro-bind', str(source), str(target)) for source, target in binds]
    if work is not None:
        mounts.append(('--bind', str(work), str(work)))
    targets = [m[2] for m in mounts] + ['/proc', '/dev', '/tmp']
    made = {'/', '/tmp'}
    for kind, source, target in mounts:
        # bwrap makes the folders above a mount for root alone (0700): make them readable
        for parent in map(str, reversed(pathlib.PurePosixPath(target).parents)):
            inside = any(parent.startswith(t + '/') for t in targets if t != '/tmp')
            if parent not in made and parent not in targets and not inside:
                made.add(parent)
                args += ['--perms', '0755', '--dir', parent]
        args += [kind, source, target]
    if work is not None:
        args += ['--chdir', str(work)]
    args.append('--')
    if as_root:
        args += [shutil.which('setpriv'), f'--reuid={NOBODY}', f'--regid={NOBODY}',
                 '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs']
    return args + list(command)


@functools.lru_cache(maxsize=1)
def _tmp_size():
    """bwrap's option that caps the private /tmp (memory), where this bwrap has it (0.8 and later)."""
    usage = subprocess.run([bwrap(), '--help'], capture_output=True, text=True).stdout
    return ['--size', str(TMP_BYTES)] if '--size' in usage else []


def _user_tasks():
    """Tasks of this user now: RLIMIT_NPROC counts every thread of every process the user runs, so a
    teacher's browser and JupyterLab (hundreds of threads) count too, not only their processes."""
    uid, count = os.getuid(), 0
    for entry in os.scandir('/proc'):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f'/proc/{entry.name}/task'))
            except OSError:  # it ended meanwhile
                pass
    return count


def run(command, work, limits=Limits(), readonly=(), binds=(), env=None):
    """Run ``command`` (a list) in a sandbox whose only writable folder is ``work``; an Outcome.

    ``readonly``: more paths visible read-only (e.g. the virtual environment); ``binds``: (source,
    target) pairs bound read-only, e.g. a grading-time view of the package over the package.
    ``work`` is given to the sandbox's user (nobody, when the grader is root). The command's
    output goes to a file in ``work`` that the file-size limit caps; what comes back is its start.
    """
    work = pathlib.Path(work)
    as_root = os.geteuid() == 0
    if as_root:
        for path in [work, *work.rglob('*')]:
            os.chown(path, NOBODY, NOBODY)
    processes = limits.processes if as_root else _user_tasks() + limits.processes
    out_path = work.parent / f'{work.name}.output'  # outside work: the code cannot replace it
    out_path.touch()
    if as_root:
        os.chown(out_path, NOBODY, NOBODY)

    def limit():
        os.setsid()
        for name, value in ((resource.RLIMIT_AS, limits.memory_bytes),
                            (resource.RLIMIT_NPROC, processes),
                            (resource.RLIMIT_FSIZE, limits.file_bytes),
                            (resource.RLIMIT_NOFILE, limits.open_files),
                            (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(name, (value, value))

    return _supervise(_bwrap_command(command, readonly, work, binds), out_path, limits.wall_seconds,
                      limits.file_bytes, preexec_fn=limit,
                      env=env if env is not None else _clean_env(work))


def run_unsandboxed(command, work, limits=Limits(), env=None, pythonpath=None):
    """``--no-sandbox``: ``command`` as a plain process in ``work``, with the sandbox's memory and
    file-size limits and wall clock but no namespaces (the grader says so in its report)."""
    work = pathlib.Path(work)

    def limit():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))

    env = env if env is not None else _clean_env(work)
    if pythonpath:
        env = {**env, 'PYTHONPATH': str(pythonpath)}
    return _supervise(command, work.parent / f'{work.name}.output', limits.wall_seconds,
                      limits.file_bytes, preexec_fn=limit, env=env, cwd=work)


def _supervise(argv, out_path, wall_seconds, file_bytes, **popen):
    """Start ``argv`` in a session of its own with its output in ``out_path``, wait at most
    ``wall_seconds``, then kill its whole process group; an Outcome with the output's start."""
    start = time.monotonic()
    with out_path.open('wb') as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   close_fds=True, **popen)
        timed_out = False
        try:
            process.wait(timeout=wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            _kill_group(process)
    with out_path.open('rb') as out:
        output = out.read(file_bytes).decode(errors='replace')
    out_path.unlink()
    return Outcome(process.returncode, output, timed_out, time.monotonic() - start)


def _kill_group(process):
    """End the sandbox and everything in it (bwrap's PID namespace dies with its first process)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _clean_env(work):
    """The environment inside: no variable of the grader's but what Python and Jupyter need."""
    keep = {k: os.environ[k] for k in ('LANG', 'LC_ALL', 'D2LUTILS_PROFILE', 'OMP_NUM_THREADS',
                                       'MXNET_ENGINE_TYPE') if k in os.environ}
    return {**keep, 'PATH': f'{pathlib.Path(sys.executable).parent}:/usr/bin:/bin',
            'HOME': str(work), 'TMPDIR': '/tmp', 'JUPYTER_RUNTIME_DIR': '/tmp/jupyter-runtime',
            'JUPYTER_DATA_DIR': '/tmp/jupyter-data', 'IPYTHONDIR': '/tmp/ipython',
            'MPLCONFIGDIR': '/tmp/matplotlib', 'PYTHONDONTWRITEBYTECODE': '1'}
