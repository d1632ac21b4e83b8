using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;

namespace BypassNat.Commands
{
    /// <summary>
    /// Runs one piece of work per router on threads of their own, at most a throttle at a time, while
    /// the cmdlet's thread shows progress and carries out every call the workers hand it through
    /// <see cref="OnCmdletThread"/>: PowerShell's streams (and ShouldProcess) may only be used from
    /// the cmdlet's thread.
    /// </summary>
    internal sealed class RouterFanOut
    {
        /// <summary>The id of the progress bar over all routers; each router's steps show beneath it.</summary>
        public const int ProgressId = 1;

        private readonly Cmdlet _cmdlet;
        private readonly CancellationTokenSource _stopping = new CancellationTokenSource();
        private int _cmdletThread;
        private BlockingCollection<Action> _posted;
        private volatile bool _abandoned;

        public RouterFanOut(Cmdlet cmdlet) => _cmdlet = cmdlet;

        /// <summary>True on a worker thread while a run is under way.</summary>
        public bool OnWorker => _posted != null && Thread.CurrentThread.ManagedThreadId != _cmdletThread;

        /// <summary>No further router is started; the ones under way finish their current step.</summary>
        public void Stop() => _stopping.Cancel();

        /// <summary>
        /// Runs <paramref name="work"/> for every target and returns when all are done. If a call the
        /// workers handed over throws (the pipeline is stopping: Ctrl-C, Select-Object -First, an error
        /// made terminating by -ErrorAction Stop), nothing more is written, no further router is
        /// started, and the exception is rethrown once the routers under way have finished.
        /// </summary>
        public void Run(IReadOnlyList<RouterTarget> targets, int throttleLimit, string activity, Action<RouterTarget> work)
        {
            _cmdletThread = Thread.CurrentThread.ManagedThreadId;
            BlockingCollection<Action> posted = _posted = new BlockingCollection<Action>();
            var throttle = new SemaphoreSlim(throttleLimit);
            var running = new ConcurrentDictionary<string, bool>();
            int finished = 0;
            // Dedicated threads: SSH calls block, and the thread pool would add threads only slowly.
            Task all = Task.WhenAll(targets.Select(target => Task.Factory.StartNew(() =>
            {
                try
                {
                    throttle.Wait(_stopping.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                try
                {
                    if (_stopping.IsCancellationRequested) return;
                    running[target.Name] = true;
                    work(target);
                }
                finally
                {
                    running.TryRemove(target.Name, out _);
                    Interlocked.Increment(ref finished);
                    throttle.Release();
                    posted.Add(() => { });
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray());

            Exception stop = null;
            try
            {
                while (!all.IsCompleted || posted.Count > 0)
                {
                    try
                    {
                        if (posted.TryTake(out Action action, 200)) action();
                        if (stop == null)
                        {
                            int done = Volatile.Read(ref finished);
                            string now = string.Join(", ", running.Keys.OrderBy(k => k, StringComparer.Ordinal));
                            _cmdlet.WriteProgress(new ProgressRecord(ProgressId, activity, $"{done} of {targets.Count} routers done" + (now.Length > 0 ? $"; working on {now}" : ""))
                            {
                                PercentComplete = done * 100 / targets.Count,
                            });
                        }
                    }
                    catch (Exception e)
                    {
                        if (stop == null) stop = e;
                        _abandoned = true;
                        _stopping.Cancel();
                    }
                }
            }
            finally
            {
                _posted = null;
            }

            if (stop != null) ExceptionDispatchInfo.Capture(stop).Throw();
            _cmdlet.WriteProgress(new ProgressRecord(ProgressId, activity, "done") { RecordType = ProgressRecordType.Completed });
        }

        /// <summary>
        /// Runs <paramref name="action"/> on the cmdlet's thread and waits for it; directly when
        /// already there. Throws OperationCanceledException on a worker once the run is abandoned.
        /// </summary>
        public void OnCmdletThread(Action action)
        {
            BlockingCollection<Action> posted = _posted;
            if (posted == null || Thread.CurrentThread.ManagedThreadId == _cmdletThread)
            {
                action();
                return;
            }

            if (_abandoned) throw new OperationCanceledException();
            bool ran = false;
            using (var done = new ManualResetEventSlim())
            {
                posted.Add(() =>
                {
                    try
                    {
                        if (_abandoned) return;
                        action();
                        ran = true;
                    }
                    finally
                    {
                        done.Set();
                    }
                });
                done.Wait();
            }

            if (!ran) throw new OperationCanceledException();
        }
    }
}
