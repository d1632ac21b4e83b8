using BypassNat.Backends;

namespace BypassNat.Registry
{
    /// <summary>The backend a command works with on one router, the other one (to clean up), and why.</summary>
    public sealed class BackendChoice
    {
        public BackendChoice(IRouterBackend backend, IRouterBackend other, string reason)
        {
            Backend = backend;
            Other = other;
            Reason = reason;
        }

        public IRouterBackend Backend { get; }

        /// <summary>The other backend when its tools exist on the router; null otherwise.</summary>
        public IRouterBackend Other { get; }

        public string Reason { get; }
    }
}
