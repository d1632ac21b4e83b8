namespace BypassNat
{
    /// <summary>The transport protocols a forward carries.</summary>
    public enum ForwardProtocol
    {
        Tcp,
        Udp,
        TcpUdp,
    }
}
