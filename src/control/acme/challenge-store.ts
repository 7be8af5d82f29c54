// Where the ACME HTTP-01 tokens live between the manager that creates them and the workers that
// answer them. Local mode: this process only (MemoryChallengeStore). Kubernetes mode: a ConfigMap
// in the controller's namespace that every replica watches (configmap-challenge-store.ts), so a
// CA validating through the LoadBalancer reaches a replica that answers, whichever it is.

export type Tokens = Readonly<Record<string, string>>;

export interface ChallengeStore {
  /**
   * Whether other replicas learn the tokens through this store (the manager then waits a little,
   * after its own workers serve them, before the CA validates).
   */
  readonly shared: boolean;
  /** Starts delivering the tokens this replica's workers must answer, now and on every change. */
  start(onChange: (tokens: Tokens) => void): Promise<void>;
  /** The leader adds tokens (token → key authorization). */
  add(tokens: Tokens): Promise<void>;
  /** The leader removes tokens once their challenges are settled. */
  remove(tokens: readonly string[]): Promise<void>;
  /** Safe to call twice. */
  close(): Promise<void>;
}

export class MemoryChallengeStore implements ChallengeStore {
  readonly shared = false;
  private tokens: Record<string, string> = {};
  private onChange: ((tokens: Tokens) => void) | null = null;

  start(onChange: (tokens: Tokens) => void): Promise<void> {
    this.onChange = onChange;
    onChange({ ...this.tokens });
    return Promise.resolve();
  }

  add(tokens: Tokens): Promise<void> {
    this.tokens = { ...this.tokens, ...tokens };
    this.onChange?.({ ...this.tokens });
    return Promise.resolve();
  }

  remove(tokens: readonly string[]): Promise<void> {
    const next = { ...this.tokens };
    for (const t of tokens) delete next[t];
    this.tokens = next;
    this.onChange?.({ ...this.tokens });
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.onChange = null;
    return Promise.resolve();
  }
}
