namespace BypassNat.Diagnosis
{
    /// <summary>How one hop of a forward's path looks from the bypass router.</summary>
    public enum HopState
    {
        /// <summary>Seen working.</summary>
        Ok,
        /// <summary>Seen broken: this hop is why the forward does not work.</summary>
        Failed,
        /// <summary>Nothing to tell by (no traffic yet, no tool on the router to probe with).</summary>
        Unknown,
        /// <summary>This hop needs nothing here (no proxy captures the replies).</summary>
        NotNeeded,
    }

    /// <summary>One hop of the path internet -> main router -> bypass router -> device, with what BypassNat can see of it.</summary>
    public sealed class PathHop
    {
        public PathHop(string hop, HopState state, string detail)
        {
            Hop = hop;
            State = state;
            Detail = detail;
        }

        /// <summary>"main router", "bypass router", "proxy", "conntrack", "device".</summary>
        public string Hop { get; }

        public HopState State { get; }

        public string Detail { get; }

        public override string ToString() => $"{Hop}: {State} ({Detail})";
    }
}
