using System;
using System.Collections.Generic;
using System.Linq;

namespace BypassNat.Backends.IKuai
{
    public enum IKuaiStepKind
    {
        Delete,
        Edit,
        Add,
    }

    /// <summary>One write call: what it does and to which row.</summary>
    public sealed class IKuaiStep
    {
        public IKuaiStepKind Kind { get; set; }

        /// <summary>The forward's name (or an unreadable row's comment), for messages and the result.</summary>
        public string Key { get; set; }

        /// <summary>The row as it is on the router (Delete, Edit), or null.</summary>
        public IKuaiMapping Before { get; set; }

        /// <summary>The row as it should be (Edit, Add), or null.</summary>
        public IKuaiMapping After { get; set; }

        public override string ToString() =>
            Kind == IKuaiStepKind.Delete ? $"delete {Key}: {Before.Describe()}"
            : Kind == IKuaiStepKind.Edit ? $"change {Key}: {Before.Describe()} => {After.Describe()}"
            : $"add {Key}: {After.Describe()}";
    }

    /// <summary>
    /// The calls that turn BypassNat's mappings on an iKuai router into the desired ones, in an order
    /// that never forwards a port to the wrong place: the API has no transaction, so deletes go first
    /// (a port stops being forwarded), then edits, each only once no other of our rows still holds the
    /// ports it moves to (a cycle of edits is broken by deleting one row and adding it back last, a
    /// moment without that forward rather than two rows on one port), then adds. The user's own
    /// mappings are never in it.
    /// </summary>
    public sealed class IKuaiPlan
    {
        private IKuaiPlan(List<IKuaiStep> steps, List<string> unchanged)
        {
            Steps = steps;
            Unchanged = unchanged;
        }

        public IReadOnlyList<IKuaiStep> Steps { get; }
        public IReadOnlyList<string> Unchanged { get; }
        public bool NeedsWrite => Steps.Count > 0;

        /// <summary>The key a row is matched by: the forward's name from its tag, or the whole comment of a row whose tag is unreadable.</summary>
        public static string KeyOf(IKuaiMapping mapping) => RuleComment.TryDecode(mapping.Comment)?.Name?.ToLowerInvariant() ?? mapping.Comment;

        /// <summary>
        /// The plan from <paramref name="current"/> (our rows on the router) to <paramref name="desired"/>
        /// (rows without ids). Rows are matched by key; a second row of one key is deleted.
        /// </summary>
        public static IKuaiPlan Compute(IReadOnlyList<IKuaiMapping> current, IReadOnlyList<IKuaiMapping> desired)
        {
            var deletes = new List<IKuaiStep>();
            var edits = new List<IKuaiStep>();
            var adds = new List<IKuaiStep>();
            var unchanged = new List<string>();
            var byKey = new Dictionary<string, List<IKuaiMapping>>(StringComparer.Ordinal);
            foreach (IKuaiMapping row in current)
            {
                string key = KeyOf(row);
                if (!byKey.TryGetValue(key, out List<IKuaiMapping> rows)) byKey[key] = rows = new List<IKuaiMapping>();
                rows.Add(row);
            }

            var wanted = new HashSet<string>(StringComparer.Ordinal);
            foreach (IKuaiMapping want in desired)
            {
                string key = KeyOf(want);
                wanted.Add(key);
                if (!byKey.TryGetValue(key, out List<IKuaiMapping> rows))
                {
                    adds.Add(new IKuaiStep { Kind = IKuaiStepKind.Add, Key = key, After = want });
                    continue;
                }

                // Keep the row that already matches, if one does; the others of that name go.
                IKuaiMapping keep = rows.FirstOrDefault(r => r.SameAs(want)) ?? rows[0];
                foreach (IKuaiMapping extra in rows.Where(r => r != keep))
                    deletes.Add(new IKuaiStep { Kind = IKuaiStepKind.Delete, Key = key, Before = extra });
                if (keep.SameAs(want))
                {
                    unchanged.Add(key);
                }
                else
                {
                    IKuaiMapping after = want.Copy();
                    after.Id = keep.Id;
                    edits.Add(new IKuaiStep { Kind = IKuaiStepKind.Edit, Key = key, Before = keep, After = after });
                }
            }

            foreach (KeyValuePair<string, List<IKuaiMapping>> pair in byKey.Where(p => !wanted.Contains(p.Key)))
                foreach (IKuaiMapping row in pair.Value)
                    deletes.Add(new IKuaiStep { Kind = IKuaiStepKind.Delete, Key = pair.Key, Before = row });

            var steps = new List<IKuaiStep>(deletes);
            var pending = new List<IKuaiStep>(edits);
            var late = new List<IKuaiStep>();
            while (pending.Count > 0)
            {
                // An edit may go once no other pending edit's row still holds ports it moves to.
                IKuaiStep next = pending.FirstOrDefault(e => !pending.Any(o => o != e && o.Before.Overlaps(e.After)));
                if (next != null)
                {
                    steps.Add(next);
                    pending.Remove(next);
                    continue;
                }

                IKuaiStep cut = pending[0];
                pending.RemoveAt(0);
                steps.Add(new IKuaiStep { Kind = IKuaiStepKind.Delete, Key = cut.Key, Before = cut.Before });
                IKuaiMapping again = cut.After.Copy();
                again.Id = null;
                late.Add(new IKuaiStep { Kind = IKuaiStepKind.Add, Key = cut.Key, After = again });
            }

            steps.AddRange(late);
            steps.AddRange(adds);
            return new IKuaiPlan(steps, unchanged);
        }

        public string Describe()
        {
            var lines = Steps.Select(s => "  " + s).ToList();
            lines.Add($"  unchanged: {(Unchanged.Count == 0 ? "none" : string.Join(", ", Unchanged.Take(10)) + (Unchanged.Count > 10 ? $" and {Unchanged.Count - 10} more" : ""))}");
            return string.Join(Environment.NewLine, lines);
        }
    }
}
