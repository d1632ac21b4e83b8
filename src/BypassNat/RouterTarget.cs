using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>One router a command works on: a name with its SSH settings, or a session opened before.</summary>
    internal sealed class RouterTarget
    {
        public RouterTarget(string name, SshSettings settings)
        {
            Name = name;
            Settings = settings;
        }

        public RouterTarget(BypassSession session)
        {
            Name = session.ComputerName;
            Session = session;
        }

        /// <summary>The router as the user named it; the target of its errors and the ComputerName of its results.</summary>
        public string Name { get; }

        public SshSettings Settings { get; }
        public BypassSession Session { get; }

        /// <summary>Two mentions of the same router (or session) are one target.</summary>
        public string Key => Session != null ? "session:" + Session.Id : $"{Name.ToLowerInvariant()}:{Settings.Port}";

        public override string ToString() => Name;
    }
}
