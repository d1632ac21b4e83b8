namespace BypassNat.Backends.IKuai
{
    /// <summary>What one run of an <see cref="IKuaiPlan"/> did to the router's mappings, by forward name.</summary>
    public sealed class IKuaiOutcome
    {
        /// <summary>False when the router already held exactly the desired mappings and nothing was called.</summary>
        public bool Changed { get; set; }

        public string[] Added { get; set; } = new string[0];
        public string[] Modified { get; set; } = new string[0];
        public string[] Removed { get; set; } = new string[0];
        public string[] Unchanged { get; set; } = new string[0];
    }
}
