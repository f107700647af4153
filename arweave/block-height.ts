// The Arweave block height the node last saw, refreshed from the gateway's /info every
// 15 s (as HyperBEAM does). Assignments carry it; a gateway that is down leaves the last
// value in place rather than stalling scheduling.
import type { ArweaveGateway } from './gateway.ts';

const REFRESH_MS = 15_000;

export class BlockHeight {
  current = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly gateway: ArweaveGateway) {}

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    try {
      const response = await this.gateway.request('/info');
      const info = (await response.json()) as { height?: number };
      if (Number.isSafeInteger(info.height) && info.height! >= this.current) this.current = info.height!;
    } catch {
      // keep the last height; the gateway's absence shows elsewhere (503s, outbox depth)
    }
  }
}
